package serverwork

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// members is a fixed etcd member list: the test apiserver's etcd is one
// plain-HTTP member, so the members k3s would name after the nodes are
// given here, at the seam the quorum.Observer fills in production.
type members []quorum.Member

func (m members) Observe(context.Context) (quorum.Status, error) {
	return quorum.Status{Members: m, Verdict: quorum.Evaluate(m)}, nil
}

// registerNode creates a Node with the status a kubelet reports.
func registerNode(t *testing.T, ctx context.Context, client kubernetes.Interface, n *corev1.Node) {
	t.Helper()
	status := n.Status
	created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = status
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// nodeEvent records an Event on a Node as a core/v1 recorder does: in the
// default namespace, last seen at at. The apiserver lists Events by name,
// so name sets where it comes in the list.
func nodeEvent(t *testing.T, ctx context.Context, client kubernetes.Interface, node, name, reason, msg string, at time.Time) {
	t.Helper()
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: node + "." + name, Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node},
		Reason:         reason, Message: msg, Type: corev1.EventTypeNormal,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at), Count: 1,
		Source: corev1.EventSource{Component: "nodeagent", Host: node},
	}
	if _, err := client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, e, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func serverNode(name string, labels, annotations map[string]string, conds ...corev1.NodeCondition) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Status:     corev1.NodeStatus{Conditions: conds, NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.31.4+k3s1"}},
	}
}

// Three nodes in the cluster file: cs-1 Ready with nodeagent's labels and
// two applies (the newer wins, whatever order they were written in), cs-2
// with NodeagentReady=False and an unhealthy member, cs-3 not registered.
func TestClusterStatusAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Now().Truncate(time.Second)
	serverRoles := map[string]string{"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/etcd": "true"}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}
	registerNode(t, ctx, client, serverNode("cs-1",
		map[string]string{"node-role.kubernetes.io/control-plane": "true", "storage": "true", "zigbee": "true", "room": "attic"},
		map[string]string{kube.OwnedLabelsAnnotation: "storage,zigbee"},
		ready, corev1.NodeCondition{Type: kube.ConditionType, Status: corev1.ConditionTrue, Reason: "Provisioned"}))
	registerNode(t, ctx, client, serverNode("cs-2", serverRoles, nil,
		corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"},
		corev1.NodeCondition{Type: kube.ConditionType, Status: corev1.ConditionFalse, Reason: "DiskLost", Message: "disk /srv/storage is not mounted"}))
	newest := "applied 41 objects: 0 created, 2 updated, 39 unchanged, 0 failed"
	// Listed first, in the middle and last: neither the first nor the last
	// of the list is the newest.
	nodeEvent(t, ctx, client, "cs-1", "a", kube.ReasonManifestsApplied, "applied 41 objects: 41 created, 0 updated, 0 unchanged, 0 failed", now.Add(-3*time.Hour))
	nodeEvent(t, ctx, client, "cs-1", "b", kube.ReasonManifestsApplied, newest, now.Add(-time.Minute))
	nodeEvent(t, ctx, client, "cs-1", "c", kube.ReasonManifestsApplied, "applied 41 objects: 0 created, 1 updated, 40 unchanged, 0 failed", now.Add(-time.Hour))
	nodeEvent(t, ctx, client, "cs-1", "d", kube.ReasonDiskMounted, "not an apply", now)
	nodeEvent(t, ctx, client, "cs-2", "a", kube.ReasonManifestsApplied, "applied 41 objects: 0 created, 0 updated, 40 unchanged, 1 failed", now.Add(-2*time.Hour))

	etcd := members{member(1, "cs-1-0a0b0c0d", true), member(2, "cs-2-1a2b3c4d", false), member(3, "gone-9-9f9f9f9f", true)}
	etcd[1].Reason = "unreachable: context deadline exceeded"
	r := ClusterReader{Client: client, Members: etcd, Nodes: []config.Node{
		{Name: "cs-1", Role: config.RoleServer}, {Name: "cs-2", Role: config.RoleServer}, {Name: "cs-3", Role: config.RoleAgent}}}

	var held *ClusterStatus
	leader := apply.NewLeader(client, "cs-1", apply.LeaderConfig{}, zaptest.NewLogger(t))
	err := leader.Run(ctx, func(ctx context.Context) error {
		var err error
		held, err = r.Read(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("reading while cs-1 holds the apply lease: %v", err)
	}
	if held.ApplyLease == nil || held.ApplyLease.Holder != "cs-1" {
		t.Errorf("apply lease while held = %+v, want held by cs-1", held.ApplyLease)
	}
	got, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ApplyLease == nil || got.ApplyLease.Holder != "" || got.ApplyLease.RenewTime.Before(now) {
		t.Errorf("apply lease once released = %+v, want no holder, renewed at the release", got.ApplyLease)
	}
	want := []ClusterNode{
		{Name: "cs-1", Registered: true, InClusterFile: true, Role: "server", K3sVersion: "v1.31.4+k3s1", Ready: "True",
			Etcd:           []EtcdMember{{Name: "cs-1-0a0b0c0d", Healthy: true}},
			NodeagentReady: &NodeCondition{Status: "True", Reason: "Provisioned"},
			OwnedLabels:    map[string]string{"storage": "true", "zigbee": "true"},
			LastApply:      &NodeEvent{At: now.Add(-time.Minute), Message: newest}},
		{Name: "cs-2", Registered: true, InClusterFile: true, Role: "server", K3sVersion: "v1.31.4+k3s1", Ready: "False",
			Etcd:           []EtcdMember{{Name: "cs-2-1a2b3c4d", Reason: "unreachable: context deadline exceeded"}},
			NodeagentReady: &NodeCondition{Status: "False", Reason: "DiskLost", Message: "disk /srv/storage is not mounted"},
			LastApply:      &NodeEvent{At: now.Add(-2 * time.Hour), Message: "applied 41 objects: 0 created, 0 updated, 40 unchanged, 1 failed"}},
		{Name: "cs-3", InClusterFile: true, Role: "agent"},
	}
	if diff := cmp.Diff(want, got.Nodes[:3], timeEqual); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]EtcdMember{{Name: "gone-9-9f9f9f9f", Healthy: true}}, got.OtherMembers); diff != "" {
		t.Errorf("members of no node (-want +got):\n%s", diff)
	}
	if got.EtcdError != "" {
		t.Errorf("etcd error %q", got.EtcdError)
	}
}

// timeEqual compares instants, not locations.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// The cluster status carries the k3s rollout the restart Lease records.
func TestClusterStatusReadsTheRollout(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leases := client.CoordinationV1().Leases(RestartLeaseNamespace)
	l, err := leases.Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: RestartLeaseName, Namespace: RestartLeaseNamespace}}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	failed := Rollout{Version: "v1.99.0+k3s1", Node: "cs-9", Since: time.Now().UTC().Truncate(time.Second), Reason: "not back within 5m0s"}
	setRollout(l, RolloutFailedAnnotation, &failed)
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // the other tests share the Lease
		l, err := leases.Get(context.Background(), RestartLeaseName, metav1.GetOptions{})
		if err == nil {
			setRollout(l, RolloutFailedAnnotation, nil)
			_, err = leases.Update(context.Background(), l, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("clearing the failed rollout: %v", err)
		}
	})
	got, err := ClusterReader{Client: client, Members: members{}}.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rollout.Failed == nil || *got.Rollout.Failed != failed || got.Rollout.InProgress != nil {
		t.Errorf("rollout = %+v, want failed %+v and none in progress", got.Rollout, failed)
	}
}
