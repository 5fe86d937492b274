package serverwork

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// renamedNodes gives the cluster's nodes a prefix, in the node list and in
// the workloads' SOFT rules: the tests' apiserver is shared, and other
// tests register Nodes named pi4-2.
func renamedNodes(c *config.Cluster, prefix string) *config.Cluster {
	out := *c
	out.Nodes = slices.Clone(c.Nodes)
	for i := range out.Nodes {
		out.Nodes[i].Name = prefix + out.Nodes[i].Name
	}
	out.Workloads = map[string]config.Workload{}
	for name, w := range c.Workloads {
		w.Prefer = slices.Clone(w.Prefer)
		for i := range w.Prefer {
			w.Prefer[i] = prefix + w.Prefer[i]
		}
		out.Workloads[name] = w
	}
	return &out
}

// setNode creates or replaces the Node with the given Ready status and
// taints, as a kubelet and the node controllers leave it.
func setNode(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, ready corev1.ConditionStatus, taints ...corev1.Taint) {
	t.Helper()
	nodes := client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		n, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	n.Spec.Taints = taints
	if n, err = nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// pollFor waits up to a minute for cond.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after a minute", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusLog collects the status lines the gate writes.
type statusLog struct {
	mu    sync.Mutex
	lines []string
}

func (s *statusLog) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *statusLog) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// The first apply waits while pi5, where the analysis places immich and
// filebrowser, has not registered, is not Ready, or still carries the
// cloud controller's taint, and goes on once it can take pods; when pi5
// never comes it goes on after apply.nodesTimeout with a note naming what
// may land elsewhere. A workload that exists waits for nothing, and only
// the workloads' own kinds are looked for.
func TestPlacementGateAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const prefix = "placement-"
	p := workFor(t, srv.KubeconfigPath(), "pi4-1", host.RealClock{})
	c := renamedNodes(p.cfg.Cluster, prefix)
	c.Apply.NodesTimeout = config.Duration{Duration: time.Minute}
	p.cfg.Cluster = c
	set, err := manifests.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	setNode(t, ctx, client, prefix+"pi4-1", corev1.ConditionTrue)
	setNode(t, ctx, client, prefix+"pi4-2", corev1.ConditionTrue, corev1.Taint{Key: "dedicated", Value: "zigbee", Effect: corev1.TaintEffectPreferNoSchedule})

	var status statusLog
	done := make(chan error, 1)
	var note string
	go func() {
		var err error
		note, err = p.waitForPlacementNodes(ctx, client, set, status.add)
		done <- err
	}()
	pollFor(t, "the gate waiting for pi5", func() bool {
		return strings.Contains(status.all(), prefix+"pi5 (not registered)")
	})
	s := status.all()
	for _, w := range []string{"immich-server", "immich-postgres", "filebrowser"} {
		if !strings.Contains(s, w) {
			t.Errorf("the status does not name %s:\n%s", w, s)
		}
	}
	if strings.Contains(s, prefix+"pi4-1") || strings.Contains(s, "pihole") {
		t.Errorf("the status names a node that is Ready, or its workloads:\n%s", s)
	}
	steps := []struct {
		ready  corev1.ConditionStatus
		taints []corev1.Taint
		why    string
	}{
		{corev1.ConditionFalse, nil, "not Ready"},
		{corev1.ConditionTrue, []corev1.Taint{{Key: taintUninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule}}, "tainted " + taintUninitialized},
	}
	for _, st := range steps {
		setNode(t, ctx, client, prefix+"pi5", st.ready, st.taints...)
		targets := map[string][]string{prefix + "pi5": {"immich-server"}}
		got, err := unreadyTargets(ctx, client, targets)
		if err != nil || len(got) != 1 || got[0] != prefix+"pi5 ("+st.why+")" {
			t.Errorf("pi5 %s: unready targets %v, %v", st.why, got, err)
		}
		select {
		case err := <-done:
			t.Fatalf("the gate opened while pi5 was %s: %v", st.why, err)
		default:
		}
	}
	setNode(t, ctx, client, prefix+"pi5", corev1.ConditionTrue)
	select {
	case err := <-done:
		if err != nil || note != "" {
			t.Errorf("gate with pi5 Ready: note %q, err %v", note, err)
		}
	case <-ctx.Done():
		t.Fatal("the gate did not open once pi5 was Ready")
	}

	// pi5 is gone: the wait ends after the timeout, with a note.
	if err := client.CoreV1().Nodes().Delete(ctx, prefix+"pi5", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Apply.NodesTimeout = config.Duration{Duration: 2 * time.Second}
	note, err = p.waitForPlacementNodes(ctx, client, set, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"created filebrowser, immich-machine-learning, immich-postgres, immich-redis, immich-server without " + prefix + "pi5 (not registered)", "2s"} {
		if !strings.Contains(note, want) {
			t.Errorf("note %q lacks %q", note, want)
		}
	}

	// Once the workloads exist nothing waits, pi5 gone or not.
	created := createWorkloads(t, ctx, client, set)
	c.Apply.NodesTimeout = config.Duration{Duration: time.Minute}
	start := time.Now()
	note, err = p.waitForPlacementNodes(ctx, client, set, func(s string) { t.Errorf("status with every workload created: %s", s) })
	if err != nil || note != "" {
		t.Errorf("with %d workloads created: note %q, err %v", created, note, err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("the gate took %s with every workload created", waited)
	}
}

// createWorkloads creates each rendered Deployment and StatefulSet (and its
// namespace) as bare objects, as if an earlier apply had; it returns how
// many.
func createWorkloads(t *testing.T, ctx context.Context, client kubernetes.Interface, set manifests.Set) int {
	t.Helper()
	n := 0
	for _, o := range set.Phase(manifests.PhaseWorkloads) {
		kind := o.GetKind()
		if kind != "Deployment" && kind != "StatefulSet" {
			continue
		}
		ns := o.GetNamespace()
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		meta := metav1.ObjectMeta{Name: o.GetName(), Namespace: ns, Labels: o.GetLabels()}
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{manifests.LabelName: o.GetLabels()[manifests.LabelName]}}
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel.MatchLabels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example"}}}}
		var err error
		if kind == "Deployment" {
			_, err = client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
		} else {
			_, err = client.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		n++
	}
	return n
}
