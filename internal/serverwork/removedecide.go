package serverwork

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

// heartbeatFresh is how recent a Ready Node's heartbeat must be for the
// Node to count as alive: a little over kube-controller-manager's
// node-monitor-grace-period (50 s since Kubernetes 1.32), after which the
// node lifecycle controller itself marks the Node not Ready. The heartbeat
// is never the kubelet's own timestamp, which a Pi without an RTC may have
// minutes off, but when this node saw the kubelet renew its Lease.
const heartbeatFresh = time.Minute

// NodeHealth is what the API says about the Node to remove.
type NodeHealth struct {
	Ready bool
	// Heartbeat is when, on this node's clock, its kubelet was last seen
	// renewing its node Lease (NodeRemover.watchRenewal); only read when
	// Ready.
	Heartbeat time.Time
}

// RemoveNodeInput is what remove-node decides from.
type RemoveNodeInput struct {
	Name string // the node to remove
	Self string // the node remove-node runs on
	// Node is nil when there is no Node object of that name.
	Node *NodeHealth
	// Members is the whole etcd cluster, assessed.
	Members []quorum.Member
	Now     time.Time
	Force   bool
}

// RemoveNodePlan is what remove-node goes on with.
type RemoveNodePlan struct {
	// Members are the node's etcd members; k3s's member controller
	// removes them once the Node is deleted.
	Members []quorum.Member
	// After is the quorum arithmetic once they are gone.
	After quorum.Verdict
	// Overridden are the refusals --force overrode, for the journal.
	Overridden []string
}

// ErrRefused is what a refusal wraps, so the command can say "--force".
var ErrRefused = errors.New("refusing to remove the node")

// DecideRemoveNode decides whether the node may be removed. It refuses,
// unless forced, when the node looks alive (an etcd member of it healthy,
// or its Node Ready with a fresh heartbeat) or when its members' removal
// would leave the remaining voters without a healthy majority. It always
// refuses to remove the node it runs on, and a node that has an etcd
// member but no Node: k3s removes a member only through its Node
// (pkg/etcd/member_controller.go), so deleting nothing would change nothing.
func DecideRemoveNode(in RemoveNodeInput) (RemoveNodePlan, error) {
	mine := quorum.MembersOfNode(in.Members, in.Name)
	switch {
	case in.Name == in.Self:
		return RemoveNodePlan{}, fmt.Errorf("%w %s: it is the node this runs on; run remove-node on another server", ErrRefused, in.Name)
	case in.Node == nil && len(mine) == 0:
		return RemoveNodePlan{}, fmt.Errorf("no Node and no etcd member named %s", in.Name)
	case in.Node == nil:
		return RemoveNodePlan{}, fmt.Errorf("%w %s: etcd member %s has no Node; k3s removes a member only when its Node is deleted or annotated etcd.k3s.cattle.io/remove=true",
			ErrRefused, in.Name, memberList(mine))
	}
	var reasons []string
	for _, m := range mine {
		if m.Healthy {
			reasons = append(reasons, fmt.Sprintf("its etcd member %s is healthy", m.Name))
		}
	}
	if in.Node.Ready && in.Now.Sub(in.Node.Heartbeat) < heartbeatFresh {
		reasons = append(reasons, fmt.Sprintf("its Node is Ready, last heartbeat %s ago", in.Now.Sub(in.Node.Heartbeat).Round(time.Second)))
	}
	ids := make([]uint64, len(mine))
	for i, m := range mine {
		ids[i] = m.ID
	}
	if len(mine) > 0 {
		if err := quorum.RemovalCostsQuorum(in.Members, ids...); err != nil {
			reasons = append(reasons, fmt.Sprintf("not safe to remove etcd member %s: %v", memberList(mine), err))
		}
	}
	plan := RemoveNodePlan{Members: mine, After: quorum.AfterRemoval(in.Members, ids...)}
	if len(reasons) == 0 {
		return plan, nil
	}
	if !in.Force {
		return RemoveNodePlan{}, fmt.Errorf("%w %s: %s (--force removes it anyway)", ErrRefused, in.Name, strings.Join(reasons, "; "))
	}
	plan.Overridden = reasons
	return plan, nil
}

func memberList(ms []quorum.Member) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}
