package quorum

import (
	"fmt"
	"strings"
)

// answer is what one member said about itself on its own client URL
// (Maintenance.Status), or the error of asking it.
type answer struct {
	Err      error
	MemberID uint64 // header member ID: who actually answered
	Leader   uint64
	Term     uint64
	Errors   []string // alarms and "no leader", as etcd reports them
}

// raftView is a (leader, term) pair. Raft elects at most one leader per term,
// so members that agree on the pair are following the same leader.
type raftView struct{ Leader, Term uint64 }

// assess marks each member healthy or not from the answers, and returns the
// agreed view (zero if none). It is pure so the partition cases can be
// table-tested without a cluster.
func assess(members []Member, answers map[uint64]answer) ([]Member, raftView) {
	voters := map[uint64]bool{}
	for _, m := range members {
		if !m.Learner {
			voters[m.ID] = true
		}
	}
	view, agreed := agreedView(members, answers, voters)
	out := make([]Member, len(members))
	for i, m := range members {
		a, ok := answers[m.ID]
		if ok && a.Err == nil {
			m.Leader, m.Term = a.Leader, a.Term
		}
		m.Reason = unhealthyReason(m, a, ok, voters, view, agreed)
		m.Healthy = m.Reason == ""
		out[i] = m
	}
	if !agreed {
		view = raftView{}
	}
	return out, view
}

// agreedView picks the (leader, term) reported by the most voters, ties going
// to the higher term. The view only counts as agreed when a quorum of voters
// reports it, or when the leader itself answered and confirms it. Without
// this, a partitioned member that still remembers its old leader would make
// itself look healthy.
func agreedView(members []Member, answers map[uint64]answer, voters map[uint64]bool) (raftView, bool) {
	counts := map[raftView]int{}
	for _, m := range members {
		a, ok := answers[m.ID]
		if m.Learner || !ok || a.Err != nil || a.MemberID != m.ID || !voters[a.Leader] {
			continue
		}
		counts[raftView{a.Leader, a.Term}]++
	}
	var best raftView
	bestN, tie := 0, false
	for v, n := range counts {
		switch {
		case n > bestN || (n == bestN && v.Term > best.Term):
			best, bestN, tie = v, n, false
		case n == bestN && v.Term == best.Term:
			tie = true
		}
	}
	if bestN == 0 || tie {
		return raftView{}, false
	}
	if bestN >= len(voters)/2+1 {
		return best, true
	}
	la, ok := answers[best.Leader]
	confirmed := ok && la.Err == nil && la.MemberID == best.Leader &&
		la.Leader == best.Leader && la.Term == best.Term
	return best, confirmed
}

// unhealthyReason returns "" for a healthy member, otherwise why it is not.
func unhealthyReason(m Member, a answer, answered bool, voters map[uint64]bool, view raftView, agreed bool) string {
	switch {
	case len(m.ClientURLs) == 0:
		return "not started: no client URL published"
	case !answered:
		return "not probed"
	case a.Err != nil:
		return fmt.Sprintf("unreachable: %v", a.Err)
	case a.MemberID != m.ID:
		return fmt.Sprintf("client URL answered as member %x", a.MemberID)
	case a.Leader == 0:
		return "no leader"
	case len(a.Errors) > 0:
		return fmt.Sprintf("reports errors: %s", strings.Join(a.Errors, ", "))
	case !voters[a.Leader]:
		return fmt.Sprintf("follows %x, which is not a voting member", a.Leader)
	case !agreed:
		return "no leader agreed by a quorum of voters"
	case a.Leader != view.Leader || a.Term != view.Term:
		return fmt.Sprintf("follows %x in term %d, cluster follows %x in term %d",
			a.Leader, a.Term, view.Leader, view.Term)
	}
	return ""
}
