package serverwork

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// leaseSeen is a Lease's holder and renewal as this node last read them,
// and when, on this node's clock, it first read that very renewal.
//
// A Lease's RenewTime is the holder's wall clock. Comparing it with this
// node's clock lets a Pi without an RTC whose clock runs 10 minutes ahead
// take a held Lease, and one 30 minutes behind wait 40 minutes for a dead
// holder (issue #22). Like client-go's leader election (observedTime in
// tools/leaderelection/leaderelection.go), a Lease is judged expired only
// once it went a whole lease duration without changing while this node
// watched, measured on this node's monotonic clock; the RenewTime is only
// compared for equality.
type leaseSeen struct {
	holder      string
	renew       time.Time
	transitions int32
	at          time.Time // when this node first saw it (monotonic reading kept)
}

// observe records l's current holder and renewal, keeping the first time
// this node saw them, and returns how long they have stayed unchanged.
func (s *leaseSeen) observe(l *coordinationv1.Lease, now time.Time) time.Duration {
	cur := leaseSeen{holder: holderOf(l), at: now}
	if l.Spec.RenewTime != nil {
		cur.renew = l.Spec.RenewTime.Time
	}
	if l.Spec.LeaseTransitions != nil {
		cur.transitions = *l.Spec.LeaseTransitions
	}
	if s.at.IsZero() || cur.holder != s.holder || !cur.renew.Equal(s.renew) || cur.transitions != s.transitions {
		*s = cur
	}
	return now.Sub(s.at)
}

// leaseDuration is the duration l states, or def when it states none.
func leaseDuration(l *coordinationv1.Lease, def time.Duration) time.Duration {
	if l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds <= 0 {
		return def
	}
	return time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
}
