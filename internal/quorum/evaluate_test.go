package quorum

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func voter(id uint64, healthy bool) Member   { return Member{ID: id, Healthy: healthy} }
func learner(id uint64, healthy bool) Member { return Member{ID: id, Learner: true, Healthy: healthy} }

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		want    Verdict
	}{
		{"no members", nil, Verdict{Needed: 1}},
		{"single voter healthy", []Member{voter(1, true)},
			Verdict{Voters: 1, HealthyVoters: 1, Needed: 1, Quorum: true}},
		{"single voter down", []Member{voter(1, false)},
			Verdict{Voters: 1, Needed: 1}},
		{"3/3", []Member{voter(1, true), voter(2, true), voter(3, true)},
			Verdict{Voters: 3, HealthyVoters: 3, Needed: 2, Quorum: true}},
		{"2/3", []Member{voter(1, true), voter(2, false), voter(3, true)},
			Verdict{Voters: 3, HealthyVoters: 2, Needed: 2, Quorum: true}},
		{"1/3", []Member{voter(1, true), voter(2, false), voter(3, false)},
			Verdict{Voters: 3, HealthyVoters: 1, Needed: 2}},
		{"2 voters need both", []Member{voter(1, true), voter(2, false)},
			Verdict{Voters: 2, HealthyVoters: 1, Needed: 2}},
		{"4 voters need 3", []Member{voter(1, true), voter(2, true), voter(3, false), voter(4, false)},
			Verdict{Voters: 4, HealthyVoters: 2, Needed: 3}},
		{"healthy learner does not make up for a voter",
			[]Member{voter(1, true), voter(2, false), voter(3, false), learner(4, true)},
			Verdict{Voters: 3, HealthyVoters: 1, Learners: 1, Needed: 2}},
		{"learner does not raise the bar",
			[]Member{voter(1, true), voter(2, true), voter(3, false), learner(4, false)},
			Verdict{Voters: 3, HealthyVoters: 2, Learners: 1, Needed: 2, Quorum: true}},
		{"only learners", []Member{learner(1, true)},
			Verdict{Learners: 1, Needed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Evaluate(tt.members)); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusSummary(t *testing.T) {
	st := Status{
		Leader: 1,
		Members: []Member{
			{ID: 1, Name: "pi4-1", Healthy: true},
			{ID: 2, Name: "pi4-2", Reason: "unreachable: refused"},
			{ID: 0xab, Reason: "not started: no client URL published"},
		},
		ReadErr: errors.New("context deadline exceeded"),
	}
	st.Verdict = Evaluate(st.Members)
	want := "1/3 voters healthy, need 2; leader pi4-1; " +
		"local linearizable read failed: context deadline exceeded; " +
		"unhealthy: pi4-2 (unreachable: refused), ab (not started: no client URL published)"
	if got := st.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if st.Quorum() {
		t.Error("Quorum() = true with 1/3 voters and a failed read")
	}
	st.Members[1].Healthy = true
	st.Verdict = Evaluate(st.Members)
	if st.Quorum() {
		t.Error("Quorum() = true with 2/3 voters but a failed local read")
	}
	st.ReadErr = nil
	if !st.Quorum() {
		t.Errorf("Quorum() = false with %s and a good read", st.Verdict)
	}
	if !strings.Contains(st.Verdict.String(), "2/3 voters healthy") {
		t.Errorf("Verdict.String() = %q", st.Verdict.String())
	}
}
