package serverwork

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// removedLocal is this node's own etcd endpoint: once its member is gone
// from the list k3s's controller keeps, it answers no more (etcd stops a
// member that learns it was removed).
type removedLocal struct {
	all  *k3sMembers
	self string
}

func (r removedLocal) Observe(ctx context.Context) (quorum.Status, error) {
	st, err := r.all.Observe(ctx)
	if err == nil && len(quorum.MembersOfNode(st.Members, r.self)) == 0 {
		return quorum.Status{}, errors.New("etcdserver: the member has been permanently removed from the cluster")
	}
	return st, err
}

// leave takes pi4-3 out of a three-server cluster against the real
// kube-apiserver, with the member list following k3s's member controller:
// refused while another server is down (nothing touched), then done once
// all are healthy, watched through a healthy peer since pi4-3's own etcd
// stops answering, leaving two healthy voters.
func TestLeaveAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	for _, n := range []string{"pi4-1", "pi4-2", "pi4-3"} {
		readyNode(t, ctx, client, n, time.Now())
	}
	runningPod(t, ctx, client, ns, "web", "pi4-3", nil, nil)
	members := &k3sMembers{client: client, list: []quorum.Member{
		urlMember(1, "pi4-1-0a0b0c0d", true), urlMember(2, "pi4-2-1a2b3c4d", false), urlMember(3, "pi4-3-3c3c3c3c", true)}}
	var peers []string
	l := &Leaver{Client: client, Members: removedLocal{members, "pi4-3"}, Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "pi4-3",
		PeerMembers:    func(endpoint string) memberObserver { peers = append(peers, endpoint); return members },
		MemberGoneWait: 30 * time.Second, NamedWait: 3 * time.Second}

	committed := 0
	commit := func() error { committed++; return nil }
	err := l.Leave(ctx, commit, func(string) {})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "leaving would cost etcd its quorum") {
		t.Fatalf("leave with pi4-2 down: %v, want a refusal", err)
	}
	if n, err := client.CoreV1().Nodes().Get(ctx, "pi4-3", metav1.GetOptions{}); err != nil || n.Spec.Unschedulable || committed != 0 {
		t.Fatalf("a refused leave changed something: %v, unschedulable=%v, committed %d", err, n.Spec.Unschedulable, committed)
	}

	members.list[1].Healthy = true
	// k3s has not named the member on the Node yet: its deletion would
	// remove no member, so leave refuses and changes nothing.
	err = l.Leave(ctx, commit, func(string) {})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "does not name etcd member pi4-3-3c3c3c3c") {
		t.Fatalf("leave of a Node that names no member: %v, want a refusal", err)
	}
	if n, err := client.CoreV1().Nodes().Get(ctx, "pi4-3", metav1.GetOptions{}); err != nil || n.Spec.Unschedulable || committed != 0 {
		t.Fatalf("a refused leave changed something: %v, unschedulable=%v, committed %d", err, n.Spec.Unschedulable, committed)
	}
	// What k3s's metadata controller writes on a server's Node.
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/etcd":"true"},"annotations":{"etcd.k3s.cattle.io/node-name":"pi4-3-3c3c3c3c"}}}`)
	if _, err := client.CoreV1().Nodes().Patch(ctx, "pi4-3", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var last string
	if err := l.Leave(ctx, commit, func(s string) { last = s }); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if want := "pi4-3 left: etcd member pi4-3-3c3c3c3c gone; 2/2 voters healthy, need 2"; last != want {
		t.Errorf("last status %q, want %q", last, want)
	}
	if committed != 1 || len(peers) != 1 || peers[0] != "https://10.0.0.1:2379" {
		t.Errorf("committed %d times, peers %q; want once, through pi4-1", committed, peers)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "pi4-3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Node pi4-3 still there: %v", err)
	}
	if !podGoing(t, ctx, client, ns, "web") {
		t.Error("pod web was not evicted")
	}
	st, _ := members.Observe(ctx)
	if v := quorum.Evaluate(st.Members); v.HealthyVoters != 2 || !v.Quorum {
		t.Errorf("after leaving: %s", v)
	}
}

// A leave on a server whose k3s has not registered its Node yet waits for
// the Node and the member's name on it, then deletes it: leaving before
// would take no member along.
func TestLeaveWaitsForTheNodeToNameItsMember(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range []string{"lw-1", "lw-2"} {
		readyNode(t, ctx, client, n, time.Now())
	}
	members := &k3sMembers{client: client, list: []quorum.Member{
		urlMember(1, "lw-1-0a0b0c0d", true), urlMember(2, "lw-2-1a2b3c4d", true), urlMember(3, "lw-3-3c3c3c3c", true)}}
	waiting := make(chan string, 10)
	l := &Leaver{Client: client, Members: removedLocal{members, "lw-3"}, Clock: host.RealClock{}, Log: zaptest.NewLogger(t), Self: "lw-3",
		PeerMembers:    func(string) memberObserver { return members },
		MemberGoneWait: 30 * time.Second, NamedWait: time.Minute}
	done := make(chan error, 1)
	go func() {
		done <- l.Leave(ctx, func() error { return nil }, func(s string) {
			if strings.HasPrefix(s, "waiting for k3s to") {
				waiting <- s
			}
		})
	}()
	select {
	case s := <-waiting:
		if s != "waiting for k3s to register Node lw-3" {
			t.Fatalf("first wait %q", s)
		}
	case err := <-done:
		t.Fatalf("leave without a Node returned %v, want it to wait for the Node", err)
	}
	readyNode(t, ctx, client, "lw-3", time.Now())
	if _, err := members.Observe(ctx); err != nil { // k3s's controller sees the new Node
		t.Fatal(err)
	}
	select {
	case s := <-waiting:
		if s != "waiting for k3s to name etcd member lw-3-3c3c3c3c on Node lw-3" {
			t.Fatalf("second wait %q", s)
		}
	case err := <-done:
		t.Fatalf("leave of a Node that names no member returned %v, want it to wait", err)
	}
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/etcd":"true"},"annotations":{"etcd.k3s.cattle.io/node-name":"lw-3-3c3c3c3c"}}}`)
	if _, err := client.CoreV1().Nodes().Patch(ctx, "lw-3", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "lw-3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Node lw-3 after leave: %v", err)
	}
}
