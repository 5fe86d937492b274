package serverwork

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// k3sMembers is an etcd member list that follows k3s's member controller
// (pkg/etcd/member_controller.go): a node's member goes away once its Node
// is deleted, and only then (a member whose Node it never saw stays). It
// holds state; the test asserts on it.
type k3sMembers struct {
	client kubernetes.Interface
	mu     sync.Mutex
	list   []quorum.Member
	seen   map[string]bool // Nodes seen to exist
}

func (k *k3sMembers) Observe(ctx context.Context) (quorum.Status, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var kept []quorum.Member
	for _, m := range k.list {
		node := m.Name[:strings.LastIndex(m.Name, "-")]
		_, err := k.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && k.seen[node]:
			continue // the Node was deleted: the controller removed the member
		case err == nil:
			if k.seen == nil {
				k.seen = map[string]bool{}
			}
			k.seen[node] = true
		case !apierrors.IsNotFound(err):
			return quorum.Status{}, err
		}
		kept = append(kept, m)
	}
	k.list = kept
	return quorum.Status{Members: kept, Verdict: quorum.Evaluate(kept)}, nil
}

// deadNode creates a Node whose kubelet stopped an hour ago, and whose etcd
// member is gone with it.
func deadNode(t *testing.T, ctx context.Context, client kubernetes.Interface, name string) {
	t.Helper()
	hourAgo := metav1.NewTime(time.Now().Add(-time.Hour))
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
		LastHeartbeatTime: hourAgo, LastTransitionTime: hourAgo, Reason: "NodeStatusUnknown"}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runningPod creates a Ready pod bound to node, so the eviction API checks
// budgets for it (a Pending pod is evicted regardless).
func runningPod(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, name, node string, labels map[string]string, owner *metav1.OwnerReference) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podGoing(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, name string) bool {
	t.Helper()
	p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return p.DeletionTimestamp != nil
}

// remove-node on a dead server: cordoned, its pods evicted (DaemonSet pods
// left), the Node deleted and the member gone; on a live one: a refusal
// that changes nothing.
func TestRemoveNodeAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	deadNode(t, ctx, client, "gone-1")
	runningPod(t, ctx, client, ns, "web", "gone-1", nil, nil)
	ds := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "0123", Controller: new(true)}
	runningPod(t, ctx, client, ns, "agent-x", "gone-1", nil, ds)
	members := &k3sMembers{client: client, list: []quorum.Member{
		member(1, "pi4-1-0a0b0c0d", true), member(2, "gone-1-1a2b3c4d", false), member(3, "pi5-5e5e5e5e", true)}}
	r := &NodeRemover{Client: client, Members: members, Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "pi4-1"}

	var last string
	if err := r.Remove(ctx, "gone-1", false, func(s string) { last = s }); err != nil {
		t.Fatalf("remove-node gone-1: %v", err)
	}
	if want := "removed node gone-1: etcd member gone-1-1a2b3c4d gone; 2/2 voters healthy, need 2"; last != want {
		t.Errorf("last status %q, want %q", last, want)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "gone-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Node gone-1 still there: %v", err)
	}
	if !podGoing(t, ctx, client, ns, "web") {
		t.Error("pod web was not evicted")
	}
	if podGoing(t, ctx, client, ns, "agent-x") {
		t.Error("the DaemonSet's pod was evicted")
	}

	// A live node: the Node is Ready and just heartbeated.
	deadNode(t, ctx, client, "alive-1")
	n, _ := client.CoreV1().Nodes().Get(ctx, "alive-1", metav1.GetOptions{})
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := r.Remove(ctx, "alive-1", false, func(string) {})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "its Node is Ready") {
		t.Fatalf("remove-node alive-1: %v, want a refusal naming the Ready Node", err)
	}
	n, err = client.CoreV1().Nodes().Get(ctx, "alive-1", metav1.GetOptions{})
	if err != nil || n.Spec.Unschedulable {
		t.Errorf("a refused removal touched the Node: %v, unschedulable=%v", err, n.Spec.Unschedulable)
	}
}

// A PodDisruptionBudget that holds a pod back stops remove-node before the
// Node is deleted, naming the pod; --force goes on. The test apiserver runs
// no disruption controller, so the test writes the status that
// kube-controller-manager's would (pkg/controller/disruption): 1 healthy, 1
// desired, no disruption allowed. (Without any status the apiserver holds
// the eviction request instead of answering 429.)
func TestRemoveNodeHonoursPodDisruptionBudgets(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	deadNode(t, ctx, client, "gone-2")
	runningPod(t, ctx, client, ns, "db", "gone-2", map[string]string{"app": "db"}, nil)
	budgetAllowingNone(t, ctx, client, ns, "db")
	members := &k3sMembers{client: client, list: []quorum.Member{
		member(1, "pi4-1-0a0b0c0d", true), member(2, "gone-2-1a2b3c4d", false), member(3, "pi5-5e5e5e5e", true)}}
	r := &NodeRemover{Client: client, Members: members, Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "pi4-1",
		EvictWait: 3 * time.Second}

	err := r.Remove(ctx, "gone-2", false, func(string) {})
	if err == nil || !strings.Contains(err.Error(), ns+"/db (held back by a PodDisruptionBudget") {
		t.Fatalf("remove-node gone-2: %v, want the budget named", err)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "gone-2", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Node was deleted although its pod was held back: %v", err)
	}
	if !n.Spec.Unschedulable {
		t.Error("the Node was not cordoned")
	}
	if err := r.Remove(ctx, "gone-2", true, func(string) {}); err != nil {
		t.Fatalf("remove-node --force gone-2: %v", err)
	}
	if st, _ := members.Observe(ctx); len(st.Members) != 2 {
		t.Errorf("members after the forced removal: %v", st.Members)
	}
}

// readyNode creates a Node that is Ready and whose node Lease was renewed at
// renew, the kubelet's clock.
func readyNode(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, renew time.Time) {
	t.Helper()
	deadNode(t, ctx, client, name)
	n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(renew)
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: at, LastTransitionTime: at}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	micro := metav1.NewMicroTime(renew)
	_, err = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr(int32(40)), RenewTime: &micro},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// kubelet renews name's node Lease every 100 ms with its own clock, off by
// skew, until the test ends.
func kubelet(t *testing.T, client kubernetes.Interface, name string, skew time.Duration) {
	leases := client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	untilTestEnds(t, func(ctx context.Context) {
		if l, err := leases.Get(ctx, name, metav1.GetOptions{}); err == nil {
			now := metav1.NewMicroTime(time.Now().Add(skew))
			l.Spec.RenewTime = &now
			_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
	})
}

// untilTestEnds runs do every 100 ms in the background, as a kubelet's
// loop would, until the test ends.
func untilTestEnds(t *testing.T, do func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			do(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// budgetAllowingNone creates a PodDisruptionBudget over the pods labelled
// app=name whose status, as kube-controller-manager's disruption
// controller would write it, allows no disruption.
func budgetAllowingNone(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, name string) {
	t.Helper()
	pdb, err := client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation,
		CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 0}
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A kubelet's RenewTime is its own clock, which on a Pi without an RTC may
// be minutes off (issue #22): remove-node judges it by seeing the Lease
// renewed. A kubelet 10 minutes behind that keeps renewing is alive; a
// Ready Node whose kubelet, 30 minutes ahead, stopped renewing is not.
func TestRemoveNodeJudgesHeartbeatBySeeingIt(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	members := &k3sMembers{client: client, list: []quorum.Member{member(1, "pi4-1-0a0b0c0d", true), member(3, "pi5-5e5e5e5e", true)}}
	r := &NodeRemover{Client: client, Members: members, Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "pi4-1",
		ObserveWait: 2 * time.Second}

	readyNode(t, ctx, client, "slow-clock", time.Now().Add(-10*time.Minute))
	kubelet(t, client, "slow-clock", -10*time.Minute)
	err := r.Remove(ctx, "slow-clock", false, func(string) {})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "its Node is Ready") {
		t.Errorf("remove-node of a live agent whose clock is 10 min behind: %v, want a refusal naming the Ready Node", err)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "slow-clock", metav1.GetOptions{}); err != nil {
		t.Errorf("the live agent's Node: %v", err)
	}

	readyNode(t, ctx, client, "fast-clock", time.Now().Add(30*time.Minute))
	if err := r.Remove(ctx, "fast-clock", false, func(string) {}); err != nil {
		t.Errorf("remove-node of a dead agent whose clock was 30 min ahead: %v", err)
	}
}
