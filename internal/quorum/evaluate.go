package quorum

import (
	"fmt"
	"strings"
)

// Member is one etcd cluster member as seen by the last observation.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	// Learner members replicate the log but do not vote; they never count
	// towards quorum.
	Learner bool
	// Healthy is set by the assessment; Reason says why not when false.
	Healthy bool
	Reason  string
	// Leader and Term are what the member itself reported (0 if it did
	// not answer or knows no leader).
	Leader uint64
	Term   uint64
}

// Verdict is the quorum arithmetic over a member list.
type Verdict struct {
	Voters        int
	HealthyVoters int
	Learners      int
	// Needed is ⌊Voters/2⌋+1.
	Needed int
	Quorum bool
}

// String renders the verdict for STATUS= lines and errors, e.g.
// "1/3 voters healthy, need 2".
func (v Verdict) String() string {
	s := fmt.Sprintf("%d/%d voters healthy, need %d", v.HealthyVoters, v.Voters, v.Needed)
	if v.Learners > 0 {
		s += fmt.Sprintf(" (%d learner(s) not counted)", v.Learners)
	}
	return s
}

// Evaluate counts healthy voting members against ⌊n/2⌋+1, n being the number
// of voting members. Learners are reported but never counted: etcd's raft
// quorum is computed over voters only (etcd docs, "learner" design).
func Evaluate(members []Member) Verdict {
	var v Verdict
	for _, m := range members {
		if m.Learner {
			v.Learners++
			continue
		}
		v.Voters++
		if m.Healthy {
			v.HealthyVoters++
		}
	}
	v.Needed = v.Voters/2 + 1
	v.Quorum = v.Voters > 0 && v.HealthyVoters >= v.Needed
	return v
}

// Status is one observation of the cluster.
type Status struct {
	// Self is the ID of the member behind the local endpoint.
	Self uint64
	// Leader and Term are the view the voters agree on; Leader is 0 when
	// there is no agreed leader.
	Leader  uint64
	Term    uint64
	Members []Member
	// ReadErr is the error of the linearizable read through the local
	// endpoint, nil when it succeeded.
	ReadErr error
	Verdict Verdict
}

// Quorum reports whether quorum is held from this node's point of view:
// enough healthy voters, and a linearizable read through the local endpoint.
func (s Status) Quorum() bool { return s.Verdict.Quorum && s.ReadErr == nil }

// LeaderName is the name of the agreed leader, or "" if there is none.
func (s Status) LeaderName() string {
	for _, m := range s.Members {
		if s.Leader != 0 && m.ID == s.Leader {
			return m.Name
		}
	}
	return ""
}

// Summary is a one-line description for progress output, e.g.
// "1/3 voters healthy, need 2; leader none; unhealthy: pi4-2 (unreachable: ...)".
func (s Status) Summary() string {
	var b strings.Builder
	b.WriteString(s.Verdict.String())
	leader := s.LeaderName()
	if leader == "" {
		leader = "none"
	}
	fmt.Fprintf(&b, "; leader %s", leader)
	if s.ReadErr != nil {
		fmt.Fprintf(&b, "; local linearizable read failed: %v", s.ReadErr)
	}
	var bad []string
	for _, m := range s.Members {
		if !m.Healthy {
			bad = append(bad, fmt.Sprintf("%s (%s)", displayName(m), m.Reason))
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, "; unhealthy: %s", strings.Join(bad, ", "))
	}
	return b.String()
}

func displayName(m Member) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("%x", m.ID)
}

// StopSafe reports whether the local member (Self) may go down, for a k3s
// restart, without costing quorum: every other voter healthy, and without
// this one still minHealthyVoters of them and a majority. nil when safe,
// else what it waits for.
func (s Status) StopSafe(minHealthyVoters int) error {
	if s.ReadErr != nil {
		return fmt.Errorf("local linearizable read failed: %w", s.ReadErr)
	}
	others := 0
	var bad []string
	for _, m := range s.Members {
		switch {
		case m.ID == s.Self || m.Learner:
		case !m.Healthy:
			bad = append(bad, fmt.Sprintf("%s (%s)", displayName(m), m.Reason))
		default:
			others++
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("other members unhealthy: %s", strings.Join(bad, ", "))
	}
	if need := max(s.Verdict.Needed, minHealthyVoters); others < need {
		return fmt.Errorf("%d other voter(s) healthy, %d needed while this one is down", others, need)
	}
	return nil
}
