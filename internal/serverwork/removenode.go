package serverwork

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// Bounds of remove-node's waits.
const (
	// evictWait bounds the evictions: a PodDisruptionBudget answers 429
	// until it allows the disruption, which for a dead node's pods may be
	// never.
	evictWait = 2 * time.Minute
	// memberGoneWait bounds the wait for k3s's member controller, which
	// removes the member before it lets the Node go (finalizer
	// wrangler.cattle.io/managed-etcd-controller).
	memberGoneWait = 2 * time.Minute
	removePoll     = 2 * time.Second
)

// memberObserver is the etcd view remove-node needs (quorum.Observer).
type memberObserver interface {
	Observe(ctx context.Context) (quorum.Status, error)
}

// NodeRemover removes a node that is gone for good, from a healthy server.
type NodeRemover struct {
	Client  kubernetes.Interface
	Members memberObserver
	Clock   host.Clock
	Log     *zap.Logger
	Self    string // the node this runs on
	// EvictWait, MemberGoneWait and ObserveWait (how long a Ready Node's
	// Lease is watched for a renewal) override the defaults (tests).
	EvictWait, MemberGoneWait, ObserveWait time.Duration
}

// Remove cordons the Node, evicts its pods, deletes it and waits until k3s
// has removed its etcd member, after DecideRemoveNode allowed it.
func (r *NodeRemover) Remove(ctx context.Context, name string, force bool, status func(string)) error {
	st, err := r.Members.Observe(ctx)
	if err != nil {
		return fmt.Errorf("reading etcd members: %w", err)
	}
	node, health, err := r.node(ctx, name)
	if err != nil {
		return err
	}
	plan, err := DecideRemoveNode(RemoveNodeInput{Name: name, Self: r.Self, Node: health,
		Members: st.Members, Now: r.Clock.Now(), Force: force})
	if err != nil {
		return err
	}
	for _, why := range plan.Overridden {
		r.Log.Warn("removing the node anyway (--force)", zap.String("removed_node", name), zap.String("refusal", why))
	}
	status("cordoning " + name)
	if err := r.cordon(ctx, node); err != nil {
		return err
	}
	status("evicting the pods of " + name)
	if err := r.evictAll(ctx, name); err != nil {
		if !force {
			return fmt.Errorf("%w (--force deletes the Node anyway)", err)
		}
		r.Log.Warn("deleting the node with pods not evicted (--force)", zap.String("removed_node", name), zap.Error(err))
	}
	status("deleting Node " + name)
	err = r.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Node %s: %w", name, err)
	}
	if len(plan.Members) == 0 {
		status(fmt.Sprintf("removed node %s (no etcd member)", name))
		return nil
	}
	status("waiting for k3s to remove etcd member " + memberList(plan.Members))
	after, err := r.waitMembersGone(ctx, plan.Members)
	if err != nil {
		return err
	}
	r.Log.Info("node removed", zap.String("removed_node", name), zap.String("etcd_member", memberList(plan.Members)),
		zap.String("etcd", after.Verdict.String()))
	status(fmt.Sprintf("removed node %s: etcd member %s gone; %s", name, memberList(plan.Members), after.Verdict))
	return nil
}

// node reads the Node and its health; a missing Node is (nil, nil, nil).
func (r *NodeRemover) node(ctx context.Context, name string) (*corev1.Node, *NodeHealth, error) {
	node, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading Node %s: %w", name, err)
	}
	h := &NodeHealth{}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			h.Ready = c.Status == corev1.ConditionTrue
		}
	}
	if h.Ready {
		if h.Heartbeat, err = r.watchRenewal(ctx, name); err != nil {
			return nil, nil, err
		}
	}
	return node, h, nil
}

// watchRenewal watches the node's Lease, which its kubelet renews every
// 10 s, and returns when, on this node's clock, it last saw it renewed: the
// moment of a renewal it saw, or heartbeatFresh ago after a watch that long
// saw none. The kubelet's RenewTime is its own clock, and a Pi without an RTC
// may be minutes off, so it is only compared with itself (issue #22). A
// Ready Node without a Lease cannot be judged: it counts as just renewed.
func (r *NodeRemover) watchRenewal(ctx context.Context, name string) (time.Time, error) {
	leases := r.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	first, err := leases.Get(ctx, name, metav1.GetOptions{})
	start := r.Clock.Now()
	switch {
	case apierrors.IsNotFound(err):
		return start, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("reading the node lease of %s: %w", name, err)
	}
	var renewed time.Time
	wait := cmp.Or(r.ObserveWait, heartbeatFresh)
	err = host.PollUntil(ctx, r.Clock, "a renewal of the node lease of "+name, wait, wait/30, func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if !l.Spec.RenewTime.Equal(first.Spec.RenewTime) || holderOf(l) != holderOf(first) {
			renewed = r.Clock.Now()
			return true, nil
		}
		return false, nil
	})
	if ctx.Err() != nil {
		return time.Time{}, ctx.Err()
	}
	if err != nil {
		// Not renewed while watched for heartbeatFresh (ObserveWait
		// shortens the watch in tests only): at least as old as that.
		r.Log.Info("node lease not renewed while watched", zap.String("removed_node", name), zap.Duration("watched", wait))
		return r.Clock.Now().Add(-heartbeatFresh), nil
	}
	return renewed, nil
}

func (r *NodeRemover) cordon(ctx context.Context, node *corev1.Node) error {
	if node.Spec.Unschedulable {
		r.Log.Info("node already cordoned", zap.String("removed_node", node.Name))
		return nil
	}
	_, err := r.Client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType,
		[]byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return fmt.Errorf("cordoning Node %s: %w", node.Name, err)
	}
	return nil
}

// waitMembersGone polls etcd until none of the members is listed.
func (r *NodeRemover) waitMembersGone(ctx context.Context, members []quorum.Member) (quorum.Status, error) {
	var last quorum.Status
	err := host.PollUntil(ctx, r.Clock, "etcd member "+memberList(members)+" removed by k3s",
		orDefault(r.MemberGoneWait, memberGoneWait), removePoll, func(ctx context.Context) (bool, error) {
			st, err := r.Members.Observe(ctx)
			if err != nil {
				return false, err
			}
			last = st
			for _, m := range st.Members {
				for _, gone := range members {
					if m.ID == gone.ID {
						return false, errors.New("still listed")
					}
				}
			}
			return true, nil
		})
	return last, err
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// RemoveNode removes the node name from the cluster (`nodeagent
// remove-node`), through this server's clientset and etcd client.
func (p *Work) RemoveNode(ctx context.Context, name string, force bool, status func(string)) error {
	client, err := p.clientset()
	if err != nil {
		return err
	}
	r := &NodeRemover{Client: client, Members: p.quorum, Clock: p.cfg.Clock, Log: p.log, Self: p.cfg.Node.Name}
	return r.Remove(ctx, name, force, status)
}
