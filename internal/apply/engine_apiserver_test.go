package apply

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

const baseSet = `apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data: {mode: homelab}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`

// TestApplyThenReapply creates a namespace, a CRD and an object of its kind
// (listed before the CRD, as an overlay might), plain objects; a second
// apply of the same set must change nothing.
func TestApplyThenReapply(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	group := ns + ".example.com"
	set := objects(t, ns, `apiVersion: `+group+`/v1
kind: Widget
metadata: {name: w1, namespace: NS}
spec: {size: 3}
---
`+baseSet+"---\n"+crdYAML(group))
	e := testEngine(t, srv, "inv-"+ns, Options{})

	first := mustApply(t, e, set)
	checkOutcomes(t, first, map[string]Outcome{
		"Widget/" + ns + "/w1": Created, "Namespace//" + ns: Created, "ConfigMap/" + ns + "/settings": Created,
		"Service/" + ns + "/web": Created, "Deployment/" + ns + "/web": Created,
		"CustomResourceDefinition//widgets." + group: Created,
	})
	if !first.Done() || first.Err() != nil {
		t.Fatalf("first apply not done: %v", first.Err())
	}
	before := liveRVs(t, e, set)

	second := mustApply(t, e, set)
	for _, res := range second.Results {
		if res.Outcome != Unchanged {
			t.Errorf("second apply: %s is %s, want unchanged", res.Key, res.Outcome)
		}
	}
	if diff := cmp.Diff(before, liveRVs(t, e, set)); diff != "" {
		t.Errorf("resourceVersions changed by a no-op apply (-before +after):\n%s", diff)
	}

	cm, err := srv.Client().CoreV1().ConfigMaps("kube-system").Get(context.Background(), "inv-"+ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := decodeInventory([]byte(cm.Data[inventoryKey]))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.entries) != len(set) {
		t.Errorf("inventory has %d entries, want %d:\n%s", len(inv.entries), len(set), cm.Data[inventoryKey])
	}
	live, err := srv.Client().AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := live.Labels[LabelManagedBy]; got != ManagedBy {
		t.Errorf("deployment label %s = %q, want %q", LabelManagedBy, got, ManagedBy)
	}
}

// TestPrune removes objects from the set: the one nodeagent created is
// deleted; objects people created (with or without the label) and one whose
// label was taken away stay.
func TestPrune(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	ctx := context.Background()
	cms := srv.Client().CoreV1().ConfigMaps(ns)
	e := testEngine(t, srv, "inv-"+ns, Options{})
	extra := objects(t, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: old, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: released, namespace: NS}
`)
	base := objects(t, ns, baseSet)
	mustApply(t, e, append(base[:len(base):len(base)], extra...))

	person := metav1.CreateOptions{FieldManager: "person"}
	for name, labels := range map[string]map[string]string{
		"user-plain":   nil,
		"user-labeled": {LabelManagedBy: ManagedBy},
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if _, err := cms.Create(ctx, cm, person); err != nil {
			t.Fatal(err)
		}
	}
	released, err := cms.Get(ctx, "released", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(released.Labels, LabelManagedBy)
	if _, err := cms.Update(ctx, released, metav1.UpdateOptions{FieldManager: "person"}); err != nil {
		t.Fatal(err)
	}

	r := mustApply(t, e, base)
	want := map[string]Outcome{
		"ConfigMap/" + ns + "/old": Pruned, "ConfigMap/" + ns + "/released": Kept,
	}
	for _, u := range base {
		want[Key(u)] = Unchanged
	}
	checkOutcomes(t, r, want)
	for name, wantExists := range map[string]bool{"old": false, "released": true, "user-plain": true, "user-labeled": true, "settings": true} {
		_, err := cms.Get(ctx, name, metav1.GetOptions{})
		if exists := err == nil; exists != wantExists || (err != nil && !apierrors.IsNotFound(err)) {
			t.Errorf("configmap %s exists=%v (err %v), want %v", name, exists, err, wantExists)
		}
	}
	// Nothing is left to prune: the next run is all unchanged.
	r = mustApply(t, e, base)
	if len(r.Pruned) != 0 {
		t.Errorf("third apply pruned %+v, want nothing", r.Pruned)
	}
}

// TestPruneKeepsVolumeClaims: a claim no longer rendered (an app whose
// storage moved to a StatefulSet's per-replica claims) is kept and reported
// on every apply while it exists; once deleted by hand, it leaves the
// inventory. A ConfigMap that went with it is pruned.
func TestPruneKeepsVolumeClaims(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	ctx := context.Background()
	e := testEngine(t, srv, "inv-"+ns, Options{})
	base := objects(t, ns, baseSet)
	extra := objects(t, ns, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pihole-data, namespace: NS}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone, namespace: NS}
`)
	mustApply(t, e, append(base[:len(base):len(base)], extra...))
	pvcKey := "PersistentVolumeClaim/" + ns + "/pihole-data"
	for i := range 2 {
		r := mustApply(t, e, base)
		want := map[string]Outcome{pvcKey: Kept}
		if i == 0 {
			want["ConfigMap/"+ns+"/gone"] = Pruned
		}
		for _, u := range base {
			want[Key(u)] = Unchanged
		}
		checkOutcomes(t, r, want)
		pvc, err := srv.Client().CoreV1().PersistentVolumeClaims(ns).Get(ctx, "pihole-data", metav1.GetOptions{})
		if err != nil || pvc.DeletionTimestamp != nil {
			t.Fatalf("apply %d: the claim was deleted (%v, %+v)", i, err, pvc)
		}
	}
	if err := srv.Client().CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "pihole-data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The claim may stay as terminating (no controller here removes its
	// protection finalizer): gone or going, its entry leaves the inventory.
	r := mustApply(t, e, base)
	if got := outcomes(r)[pvcKey]; got != "" {
		t.Errorf("after the delete by hand: the claim is still reported %s", got)
	}
	if r := mustApply(t, e, base); len(r.Pruned) != 0 {
		t.Errorf("the claim's entry stayed in the inventory: %+v", r.Pruned)
	}
}

// TestConflictReportedNotForced creates by hand an object with a rendered
// object's name and a different value: it is reported, not overwritten,
// until apply.forceConflicts lists it; and it is never pruned.
func TestConflictReportedNotForced(t *testing.T) {
	srv := kube.Get(t)
	ns := srv.CreateNamespace(t)
	ctx := context.Background()
	cms := srv.Client().CoreV1().ConfigMaps(ns)
	handmade := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "mine"}}
	if _, err := cms.Create(ctx, handmade, metav1.CreateOptions{FieldManager: "person"}); err != nil {
		t.Fatal(err)
	}
	set := objects(t, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data: {mode: homelab}
`)
	e := testEngine(t, srv, "inv-"+ns, Options{})
	r := mustApply(t, e, set)
	wantConflict := []FieldConflict{{Field: ".data.mode", Manager: "person"}}
	if diff := cmp.Diff(wantConflict, r.Results[0].Conflicts); diff != "" || r.Results[0].Outcome != Conflict {
		t.Errorf("outcome %s, conflicts (-want +got):\n%s", r.Results[0].Outcome, diff)
	}
	if r.Err() == nil {
		t.Error("Report.Err() is nil with a conflict")
	}
	if got := configMapValue(t, cms, "settings"); got != "mine" {
		t.Errorf("conflicting value overwritten: mode=%q", got)
	}

	// Dropped from the set, the handmade object stays: nodeagent never
	// created it.
	other := objects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: NS}\n")
	if r := mustApply(t, e, other); len(r.Pruned) != 0 {
		t.Errorf("pruned %+v, want nothing", r.Pruned)
	}
	if got := configMapValue(t, cms, "settings"); got != "mine" {
		t.Errorf("handmade object changed or deleted: mode=%q", got)
	}

	forced := testEngine(t, srv, "inv-"+ns, Options{ForceConflicts: []string{"ConfigMap/" + ns + "/settings"}})
	r = mustApply(t, forced, set)
	if r.Results[0].Outcome != Configured {
		t.Errorf("forced apply: %s (%s), want configured", r.Results[0].Outcome, r.Results[0].Reason)
	}
	if got := configMapValue(t, cms, "settings"); got != "homelab" {
		t.Errorf("forced apply: mode=%q, want homelab", got)
	}
}

func configMapValue(t *testing.T, cms interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.ConfigMap, error)
}, name string) string {
	t.Helper()
	cm, err := cms.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading configmap %s: %v", name, err)
	}
	return cm.Data["mode"]
}

// TestChartKindPendingThenApplied applies an object whose CRD a chart would
// install: pending (not failed) while the kind is not served, applied once
// the CRD appears during a later run's wait.
func TestChartKindPendingThenApplied(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	group := ns + ".example.com"
	set := objects(t, ns, baseSet+`---
apiVersion: `+group+`/v1
kind: Widget
metadata: {name: pool, namespace: NS}
spec: {addresses: ["192.168.1.240-192.168.1.250"]}
`)
	widget := "Widget/" + ns + "/pool"
	e := testEngine(t, srv, "inv-"+ns, Options{KindTimeout: 500 * time.Millisecond})
	start := time.Now()
	r := mustApply(t, e, set)
	// The whole KindTimeout went on the kind that never came: a wait for
	// the cluster, which the report keeps apart from the apply's own time.
	if took := time.Since(start); r.Waited < 500*time.Millisecond || r.Waited > took {
		t.Errorf("first apply waited %s of %s, want the KindTimeout (500ms) and no more than the run", r.Waited, took)
	}
	got := outcomes(r)
	if got[widget] != Pending || got["Deployment/"+ns+"/web"] != Created {
		t.Fatalf("first apply: %v, want the widget pending and the rest created", got)
	}
	if r.Done() || r.Err() != nil {
		t.Errorf("first apply: Done()=%v Err()=%v, want false and nil", r.Done(), r.Err())
	}

	installed := make(chan error, 1)
	go func() {
		time.Sleep(time.Second) // the chart's CRDs arrive while the run waits
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := apiserver.InstallCRDs(ctx, srv.RestConfig(), []byte(crdYAML(group)))
		installed <- err
	}()
	e = testEngine(t, srv, "inv-"+ns, Options{KindTimeout: time.Minute})
	r = mustApply(t, e, set)
	if err := <-installed; err != nil {
		t.Fatal(err)
	}
	if got := outcomes(r)[widget]; got != Created {
		t.Errorf("second apply: widget %s, want created (report %+v)", got, r.Results)
	}
	if !r.Done() {
		t.Errorf("second apply not done: %s", r.Summary())
	}
}

// TestQuorumLostStopsAtBoundary loses quorum after the namespaces: the rest
// is pending and nothing is pruned.
func TestQuorumLostStopsAtBoundary(t *testing.T) {
	srv := kube.Get(t)
	ns := uniqueName(t, srv)
	calls := 0
	held := func(context.Context) bool { calls++; return calls == 1 }
	e := testEngine(t, srv, "inv-"+ns, Options{Held: held, HeldInterval: time.Hour})
	set := objects(t, ns, baseSet)
	r := mustApply(t, e, set)
	want := map[string]Outcome{}
	for i, u := range set {
		want[Key(u)] = Pending
		if i == 0 {
			want[Key(u)] = Created
		}
	}
	checkOutcomes(t, r, want)
	if !r.Stopped || r.Done() {
		t.Errorf("Stopped=%v Done()=%v, want true and false", r.Stopped, r.Done())
	}
	if _, err := srv.Client().CoreV1().ConfigMaps(ns).Get(context.Background(), "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap applied after quorum loss: err=%v", err)
	}
	if calls != 2 {
		t.Errorf("held called %d times, want 2 (one per step boundary)", calls)
	}
}
