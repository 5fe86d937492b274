package serverwork

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// podEnder plays the kubelet of node for the pods a leave evicts: it ends
// each pod given a deletion timestamp (the real kubelet stops the
// containers, then deletes the pod for good), until the test ends.
func podEnder(t *testing.T, client kubernetes.Interface, node string) {
	untilTestEnds(t, func(ctx context.Context) {
		pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		if err != nil {
			return
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				_ = client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			}
		}
	})
}

// An agent leaves with its kubelet's credentials against the real
// apiserver (Node authorizer, NodeRestriction): it cordons its Node and
// evicts its pods (DaemonSet and mirror pods left, the pods of other nodes
// untouched), and, refused the Node's deletion, says what a server must do.
func TestAgentLeaveWithKubeletCredentials(t *testing.T) {
	srv := server.Get(t)
	admin := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	readyNode(t, ctx, admin, "agent-1", time.Now())
	readyNode(t, ctx, admin, "agent-2", time.Now())
	runningPod(t, ctx, admin, ns, "web", "agent-1", nil, nil)
	runningPod(t, ctx, admin, ns, "proxy", "agent-1", nil, &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "proxy", UID: "u1", Controller: new(true)})
	mirrorPod(t, ctx, admin, ns, "static", "agent-1")
	runningPod(t, ctx, admin, ns, "elsewhere", "agent-2", nil, nil)
	podEnder(t, admin, "agent-1")

	committed := 0
	l := &AgentLeaver{Client: srv.NodeClient(t, "agent-1"), Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "agent-1",
		EvictWait: 10 * time.Second, PodsGoneWait: 10 * time.Second}
	var said []string
	left, err := l.Leave(ctx, func() error { committed++; return nil }, func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatalf("leave of agent-1: %v (said %q)", err, said)
	}
	if committed != 1 {
		t.Errorf("committed %d times, want once", committed)
	}
	n, err := admin.CoreV1().Nodes().Get(ctx, "agent-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Node agent-1: %v", err)
	}
	if !n.Spec.Unschedulable {
		t.Error("agent-1 not cordoned")
	}
	if !podGoing(t, ctx, admin, ns, "web") {
		t.Error("pod web of agent-1 not evicted")
	}
	for _, p := range []string{"proxy", "static", "elsewhere"} {
		if podGoing(t, ctx, admin, ns, p) {
			t.Errorf("pod %s evicted, want it left", p)
		}
	}
	// Node authorizer: bootstrappolicy NodeRules grant no delete on nodes,
	// so the agent asks the servers, with a label NodeRestriction allows.
	if left.NodeDeleted || !left.Requested || !strings.Contains(left.Remaining, "`nodeagent remove-node agent-1`") {
		t.Errorf("leave = %+v, want the Node's deletion asked of the servers", left)
	}
	if got := n.Labels[kube.LeaveRequestLabel]; got != kube.LeaveRequested {
		t.Errorf("Node agent-1 label %s=%q, want %q", kube.LeaveRequestLabel, got, kube.LeaveRequested)
	}
	if other, err := admin.CoreV1().Nodes().Get(ctx, "agent-2", metav1.GetOptions{}); err != nil || other.Labels[kube.LeaveRequestLabel] != "" {
		t.Errorf("Node agent-2 after agent-1 left: labels %v (%v), want no leave request", other.Labels, err)
	}
}

// A PodDisruptionBudget that allows no disruption holds a pod back: the
// leave fails naming the budget, the Node stays, cordoned.
func TestAgentLeaveHonoursPodDisruptionBudgets(t *testing.T) {
	srv := server.Get(t)
	admin := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	readyNode(t, ctx, admin, "agent-3", time.Now())
	runningPod(t, ctx, admin, ns, "db", "agent-3", map[string]string{"app": "db"}, nil)
	budgetAllowingNone(t, ctx, admin, ns, "db")
	l := &AgentLeaver{Client: srv.NodeClient(t, "agent-3"), Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "agent-3",
		EvictWait: 3 * time.Second}

	_, err := l.Leave(ctx, func() error { return nil }, func(string) {})
	if err == nil || !strings.Contains(err.Error(), ns+"/db (held back by a PodDisruptionBudget") || !strings.Contains(err.Error(), "run leave again") {
		t.Fatalf("leave of agent-3: %v, want the budget named", err)
	}
	n, err := admin.CoreV1().Nodes().Get(ctx, "agent-3", metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Errorf("Node agent-3 after a held-back leave: %v, %v; want it there, cordoned", n.Spec, err)
	}
}

// mirrorPod creates the mirror of a static pod, as its kubelet does (the
// apiserver takes the mirror annotation only at creation).
func mirrorPod(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, name, node string) {
	t.Helper()
	_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "hash"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
