package serverwork

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// A k3s upgrade rolls through the servers one restart turn at a time. The
// restart Lease, which every server reads before its turn, records it: the
// holder upgrading now (RolloutAnnotation, for `nodeagent status`), and a
// version that did not come back on a server (RolloutFailedAnnotation),
// which stops the rollout: no other server starts that version, so they
// stay on the old one and quorum holds. A later, different k3s.version in
// the cluster file clears the record at its first claim.
const (
	RolloutAnnotation       = "nodeagent.dev/k3s-rollout"
	RolloutFailedAnnotation = "nodeagent.dev/k3s-rollout-failed"
)

// Rollout is one server's upgrade of k3s to Version, from Since (that
// server's clock); Reason says why it failed, for a failed one.
type Rollout struct {
	Version string    `json:"version"`
	Node    string    `json:"node"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason,omitempty"`
}

// ErrRolloutStopped refuses the restart turn to a server that would start
// a k3s version that already failed on another server.
var ErrRolloutStopped = errors.New("k3s rollout stopped")

// RolloutStatus is what the restart Lease says about the k3s rollout.
type RolloutStatus struct {
	// InProgress is the server upgrading now, nil when none.
	InProgress *Rollout `json:"inProgress,omitempty"`
	// Failed is the last version that did not come back, nil when none.
	Failed *Rollout `json:"failed,omitempty"`
}

// rolloutOf reads the rollout record under key of l, nil when there is
// none or it is unreadable (written by hand: it only ever stops rollouts).
func rolloutOf(l *coordinationv1.Lease, key string) *Rollout {
	raw, ok := l.Annotations[key]
	if !ok {
		return nil
	}
	var r Rollout
	if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Version == "" {
		return nil
	}
	return &r
}

func rolloutStatusOf(l *coordinationv1.Lease) RolloutStatus {
	s := RolloutStatus{Failed: rolloutOf(l, RolloutFailedAnnotation)}
	if holderOf(l) != "" {
		s.InProgress = rolloutOf(l, RolloutAnnotation)
	}
	return s
}

// decideRolloutClaim decides a claim of the restart turn for a restart that
// installs k3s version ("" for one that installs none) given the recorded
// failure: a restart of the failed version is refused; one of another
// version clears the record (the cluster file moved on); a restart that
// installs nothing (a config change) goes ahead and leaves it.
func decideRolloutClaim(failed *Rollout, version string) (clear bool, err error) {
	switch {
	case failed == nil || version == "":
		return false, nil
	case failed.Version == version:
		// Short, as it ends a STATUS line; `nodeagent status` gives the
		// time and the reason.
		return false, fmt.Errorf("%w: k3s %s did not come back on %s; the others stay on their version until k3s.version changes",
			ErrRolloutStopped, version, failed.Node)
	}
	return true, nil
}

// setRollout writes r under key of l (nil removes it).
func setRollout(l *coordinationv1.Lease, key string, r *Rollout) {
	if r == nil {
		delete(l.Annotations, key)
		return
	}
	data, _ := json.Marshal(r) // a struct of strings and a time: cannot fail
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[key] = string(data)
}
