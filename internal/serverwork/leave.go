package serverwork

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// Leaver takes the server it runs on out of the cluster.
type Leaver struct {
	Client  kubernetes.Interface
	Members memberObserver
	// PeerMembers observes etcd through another server's client URL.
	PeerMembers func(endpoint string) memberObserver
	Clock       host.Clock
	Log         *zap.Logger
	Self        string
	// EvictWait, MemberGoneWait and NamedWait override the defaults (tests).
	EvictWait, MemberGoneWait, NamedWait time.Duration
}

// k3s's metadata controller (pkg/etcd/metadata_controller.go) labels a
// server's Node as etcd's and names its member on it; when the Node is
// deleted, the member controller (pkg/etcd/member_controller.go onRemove)
// removes exactly the member named there, and nothing from a Node that
// names none yet (k3s started moments ago). So a leave waits for the name
// before it deletes the Node.
const (
	etcdRoleLabel        = "node-role.kubernetes.io/etcd"
	etcdMemberAnnotation = "etcd.k3s.cattle.io/node-name"
	namedWait            = time.Minute
)

// Leave checks with DecideLeave that the others keep quorum, calls
// committed (which stops what would bring the node back), then cordons
// this Node, evicts its pods, deletes it and waits, through another
// server's etcd, until k3s's member controller has removed this node's
// member. Stopping k3s is the caller's: until the member is gone it is
// still a voter.
func (l *Leaver) Leave(ctx context.Context, committed func() error, status func(string)) error {
	st, err := l.Members.Observe(ctx)
	if err != nil {
		return fmt.Errorf("reading etcd members: %w", err)
	}
	plan, err := DecideLeave(l.Self, st.Members)
	if err != nil {
		return err
	}
	var node *corev1.Node
	if len(plan.Members) > 0 {
		node, err = l.waitNamesMember(ctx, plan.Members, status)
	} else {
		node, err = l.readNode(ctx) // nil when a leave runs again after the Node went
	}
	if err != nil {
		return err
	}
	if err := committed(); err != nil {
		return err
	}
	r := &NodeRemover{Client: l.Client, Members: l.Members, Clock: l.Clock, Log: l.Log, Self: l.Self,
		EvictWait: l.EvictWait, MemberGoneWait: l.MemberGoneWait}
	if node != nil {
		status("cordoning " + l.Self)
		if err := r.cordon(ctx, node); err != nil {
			return err
		}
		status("evicting the pods of " + l.Self)
		if err := r.evictAll(ctx, l.Self); err != nil {
			return fmt.Errorf("%w; the node stays cordoned, run leave again once they can go", err)
		}
		status("deleting Node " + l.Self)
		if err := l.Client.CoreV1().Nodes().Delete(ctx, l.Self, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Node %s: %w", l.Self, err)
		}
	}
	if len(plan.Members) == 0 {
		status(fmt.Sprintf("%s left: no etcd member of it; %s", l.Self, plan.After))
		return nil
	}
	status("waiting for k3s to remove etcd member " + memberList(plan.Members) + ", watched through " + plan.Peer)
	r.Members = l.PeerMembers(plan.Peer)
	after, err := r.waitMembersGone(ctx, plan.Members)
	if err != nil {
		return err
	}
	l.Log.Info("node left", zap.String("etcd_member", memberList(plan.Members)), zap.String("etcd", after.Verdict.String()))
	status(fmt.Sprintf("%s left: etcd member %s gone; %s", l.Self, memberList(plan.Members), after.Verdict))
	return nil
}

// readNode reads this node's Node; a missing one (a leave run again after
// the Node went) is nil.
func (l *Leaver) readNode(ctx context.Context) (*corev1.Node, error) {
	node, err := l.Client.CoreV1().Nodes().Get(ctx, l.Self, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Node %s: %w", l.Self, err)
	}
	return node, nil
}

// waitNamesMember waits until this node's Node exists, is labelled etcd's
// and names one of members, and returns it. A member without its Node is a
// server whose k3s has not registered it yet (a Node deleted since would
// have taken its member along: the controller holds the Node until then).
// Nothing has changed when it gives up.
func (l *Leaver) waitNamesMember(ctx context.Context, members []quorum.Member, status func(string)) (*corev1.Node, error) {
	var node *corev1.Node
	said := ""
	say := func(text string) {
		if text != said {
			said = text
			status(text)
		}
	}
	err := host.PollUntil(ctx, l.Clock, "Node "+l.Self+" naming its etcd member", orDefault(l.NamedWait, namedWait), removePoll,
		func(ctx context.Context) (bool, error) {
			n, err := l.readNode(ctx)
			if err != nil {
				return false, err
			}
			if n == nil {
				say("waiting for k3s to register Node " + l.Self)
				return false, fmt.Errorf("no Node %s yet", l.Self)
			}
			node = n
			named := n.Annotations[etcdMemberAnnotation]
			if n.Labels[etcdRoleLabel] == "true" && slices.ContainsFunc(members, func(m quorum.Member) bool { return m.Name == named }) {
				return true, nil
			}
			say(fmt.Sprintf("waiting for k3s to name etcd member %s on Node %s", memberList(members), l.Self))
			return false, fmt.Errorf("label %s=%q, annotation %s=%q", etcdRoleLabel, n.Labels[etcdRoleLabel], etcdMemberAnnotation, named)
		})
	if err != nil {
		return nil, fmt.Errorf("%w %s: k3s does not name etcd member %s on its Node (k3s's metadata controller does, once k3s runs): "+
			"deleting the Node would leave the member; is k3s running here? %v", ErrRefused, l.Self, memberList(members), err)
	}
	return node, nil
}

// Leave takes this server out of the cluster (`nodeagent leave`) through
// its clientset and etcd client; committed runs once DecideLeave allowed
// it, before anything changes.
func (p *Work) Leave(ctx context.Context, committed func() error, status func(string)) error {
	client, err := p.clientset()
	if err != nil {
		return err
	}
	tlsDir := p.cfg.EtcdTLSDir
	if tlsDir == "" {
		tlsDir = quorum.DefaultTLSDir
	}
	var peer *quorum.Observer
	defer func() {
		if peer != nil {
			_ = peer.Close()
		}
	}()
	l := &Leaver{Client: client, Members: p.quorum, Clock: p.cfg.Clock, Log: p.log, Self: p.cfg.Node.Name,
		PeerMembers: func(endpoint string) memberObserver {
			peer = quorum.NewObserver(quorum.Config{Endpoint: endpoint, TLSDir: p.cfg.Root.Path(tlsDir)}, p.log)
			return peer
		}}
	return l.Leave(ctx, committed, status)
}
