package serverwork

import (
	"fmt"
	"slices"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

// LeavePlan is what `nodeagent leave` on a server goes on with.
type LeavePlan struct {
	// Members are this node's etcd members; k3s's member controller,
	// on the server holding the k3s-etcd lease, removes them once the
	// Node is deleted.
	Members []quorum.Member
	// After is the quorum arithmetic once they are gone.
	After quorum.Verdict
	// Peer is the client URL of a healthy voter that stays: the removal is
	// watched through it, since this node's own etcd stops serving once its
	// member is removed.
	Peer string
}

// DecideLeave decides whether the server self may leave the cluster whose
// etcd members are members: it refuses when the removal of its members
// would leave the others without a healthy majority (quorum's
// RemovalCostsQuorum: a two-server cluster cannot lose one, the last server
// cannot leave), when no other healthy voter is left to watch the removal
// through, and when it is no member at all but would still be named by
// one. A server whose members are gone already leaves with nothing to wait
// for.
func DecideLeave(self string, members []quorum.Member) (LeavePlan, error) {
	mine := quorum.MembersOfNode(members, self)
	if len(mine) == 0 {
		return LeavePlan{After: quorum.Evaluate(members)}, nil
	}
	ids := make([]uint64, len(mine))
	for i, m := range mine {
		ids[i] = m.ID
	}
	if err := quorum.RemovalCostsQuorum(members, ids...); err != nil {
		return LeavePlan{}, fmt.Errorf("%w %s: leaving would cost etcd its quorum: removing etcd member %s: %v",
			ErrRefused, self, memberList(mine), err)
	}
	plan := LeavePlan{Members: mine, After: quorum.AfterRemoval(members, ids...)}
	for _, m := range members {
		if m.Healthy && !m.Learner && len(m.ClientURLs) > 0 && !slices.Contains(ids, m.ID) {
			plan.Peer = m.ClientURLs[0]
			return plan, nil
		}
	}
	return LeavePlan{}, fmt.Errorf("%w %s: no other healthy voter publishes a client URL to watch the removal through", ErrRefused, self)
}
