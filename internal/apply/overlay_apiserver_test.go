package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/host"
)

// overlayYAML is the overlay's one object. It was a PVC (issue #22), but
// PVCs are never pruned now (TestPruneKeepsVolumeClaims); a ConfigMap is
// pruned like any other object.
const overlayYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: data, namespace: NS}
data: {mode: overlay}
`

// applyServer is one server of TestOverlayDifferentServers: its engine,
// its overlay directory (under its own root) and its side of the apply lease.
type applyServer struct {
	name   string
	root   host.Root
	engine *Engine
	leader *Leader
}

// apply loads the server's overlay from disk and applies it with the
// built-in objects as the holder of the apply lease, as serverwork does.
func (s *applyServer) apply(t *testing.T, builtin, ns string) *Report {
	t.Helper()
	overlay, err := LoadOverlay(s.root, "/etc/nodeagent/manifests.d")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var report *Report
	err = s.leader.TryRun(ctx, 30*time.Second, func(ctx context.Context) error {
		var err error
		report, err = s.engine.Apply(ctx, Set{Builtin: objects(t, ns, builtin), Overlay: overlay})
		return err
	})
	if err != nil {
		t.Fatalf("%s applying: %v", s.name, err)
	}
	return report
}

func (s *applyServer) writeOverlay(t *testing.T, ns string) {
	t.Helper()
	dir := s.root.Path("/etc/nodeagent/manifests.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(strings.ReplaceAll(overlayYAML, "NS", ns)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *applyServer) removeOverlay(t *testing.T) {
	t.Helper()
	if err := os.Remove(s.root.Path("/etc/nodeagent/manifests.d/data.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestOverlayDifferentServers: two servers whose manifests.d differ take
// turns holding the apply lease (issue #22 item 1). The ConfigMap that only
// pi4-1's overlay holds is never deleted by pi4-2, whose overlay directory
// is missing, and nothing is written on later turns; once the manifest is
// gone from every server's directory, it is pruned.
func TestOverlayDifferentServers(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	lease := "lease-" + ns
	servers := []string{"pi4-1", "pi4-2"}
	newServer := func(name string) *applyServer {
		return &applyServer{
			name:   name,
			root:   host.NewRoot(t.TempDir()),
			engine: testEngine(t, srv, "inv-"+ns, Options{Server: name, Servers: servers}),
			leader: testLeader(t, lease, name),
		}
	}
	pi41, pi42 := newServer("pi4-1"), newServer("pi4-2")
	builtin := "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n"
	dataKey := "ConfigMap/" + ns + "/data"
	pi41.writeOverlay(t, ns)

	if got := outcomes(pi41.apply(t, builtin, ns))[dataKey]; got != Created {
		t.Fatalf("pi4-1 applying its overlay: ConfigMap %s, want created", got)
	}
	created := liveData(t, ns)
	// pi4-2's overlay directory is missing: it records an empty overlay.
	if r := pi42.apply(t, builtin, ns); len(r.Pruned) != 0 {
		t.Errorf("pi4-2 pruned what only pi4-1's overlay holds: %+v", r.Pruned)
	}
	invRV := inventoryRV(t, "inv-"+ns)
	for turn := range 4 {
		s := []*applyServer{pi41, pi42}[turn%2]
		r := s.apply(t, builtin, ns)
		// "configured" is allowed (a re-apply of a PVC bumped its
		// resourceVersion); created, pruned or kept are not.
		for _, res := range append(append([]Result{}, r.Results...), r.Pruned...) {
			if res.Outcome != Unchanged && res.Outcome != Configured {
				t.Errorf("turn %d (%s): %s %s: %s", turn, s.name, res.Key, res.Outcome, res.Reason)
			}
		}
		live := liveData(t, ns)
		if live == nil || live.UID != created.UID || live.DeletionTimestamp != nil {
			t.Fatalf("turn %d (%s): ConfigMap was %+v, now %+v: deleted or recreated", turn, s.name, created.ObjectMeta, live)
		}
		if rv := inventoryRV(t, "inv-"+ns); rv != invRV {
			t.Errorf("turn %d (%s): the inventory was written again (resourceVersion %s -> %s)", turn, s.name, invRV, rv)
		}
	}

	// The owner copies the file to pi4-2, then deletes it everywhere.
	pi42.writeOverlay(t, ns)
	pi42.apply(t, builtin, ns)
	pi41.removeOverlay(t)
	if r := pi41.apply(t, builtin, ns); len(r.Pruned) != 0 {
		t.Errorf("pi4-1 pruned what pi4-2's overlay still holds: %+v", r.Pruned)
	}
	if live := liveData(t, ns); live == nil || live.DeletionTimestamp != nil {
		t.Fatalf("ConfigMap deleted while pi4-2's overlay still holds it: %+v", live)
	}
	pi42.removeOverlay(t)
	checkOutcomes(t, pi42.apply(t, builtin, ns), map[string]Outcome{"Namespace//" + ns: Unchanged, dataKey: Pruned})
	if live := liveData(t, ns); live != nil && live.DeletionTimestamp == nil {
		t.Errorf("ConfigMap still there after its manifest left every server: %+v", live.ObjectMeta)
	}
}

// liveData reads the overlay's ConfigMap; nil when it is gone.
func liveData(t *testing.T, ns string) *corev1.ConfigMap {
	t.Helper()
	cm, err := kube.Get(t).Client().CoreV1().ConfigMaps(ns).Get(context.Background(), "data", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func inventoryRV(t *testing.T, name string) string {
	t.Helper()
	cm, err := kube.Get(t).Client().CoreV1().ConfigMaps("kube-system").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.ResourceVersion
}

// TestOverlayPruneWaitsForEveryServer: an overlay object leaves the only
// overlay recorded so far, but pi4-2 has never applied since (it may hold
// the manifest too): it is kept, while a built-in object no longer rendered
// is pruned at once. A server taken out of the cluster file stops counting.
func TestOverlayPruneWaitsForEveryServer(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	pi41 := &applyServer{
		name:   "pi4-1",
		root:   host.NewRoot(t.TempDir()),
		engine: testEngine(t, srv, "inv-"+ns, Options{Server: "pi4-1", Servers: []string{"pi4-1", "pi4-2"}}),
		leader: testLeader(t, "lease-"+ns, "pi4-1"),
	}
	builtin := "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n"
	old := builtin + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: NS}\n"
	dataKey, oldKey := "ConfigMap/"+ns+"/data", "ConfigMap/"+ns+"/old"
	pi41.writeOverlay(t, ns)
	pi41.apply(t, old, ns)
	pi41.removeOverlay(t)

	r := pi41.apply(t, builtin, ns)
	if got := outcomes(r); got[dataKey] != Kept || got[oldKey] != Pruned {
		t.Errorf("outcomes %v: want the overlay's ConfigMap kept (pi4-2 unrecorded) and the built-in one pruned", got)
	}
	if live := liveData(t, ns); live == nil || live.DeletionTimestamp != nil {
		t.Fatalf("ConfigMap deleted before pi4-2 recorded its overlay: %+v", live)
	}

	pi41.engine = testEngine(t, srv, "inv-"+ns, Options{Server: "pi4-1", Servers: []string{"pi4-1"}})
	if got := outcomes(pi41.apply(t, builtin, ns))[dataKey]; got != Pruned {
		t.Errorf("with pi4-2 out of the cluster file: ConfigMap %s, want pruned", got)
	}
}
