package quorum

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// three voters 1, 2, 3 and a learner 4, all started.
func clusterMembers() []Member {
	return []Member{
		{ID: 1, Name: "a", ClientURLs: []string{"https://a:2379"}},
		{ID: 2, Name: "b", ClientURLs: []string{"https://b:2379"}},
		{ID: 3, Name: "c", ClientURLs: []string{"https://c:2379"}},
		{ID: 4, Name: "d", ClientURLs: []string{"https://d:2379"}, Learner: true},
	}
}

func ok(id, leader, term uint64) answer { return answer{MemberID: id, Leader: leader, Term: term} }

var errDown = errors.New("connection refused")

func TestAssess(t *testing.T) {
	tests := []struct {
		name     string
		answers  map[uint64]answer
		wantOK   []uint64 // IDs expected healthy
		wantView raftView
	}{
		{
			name:     "all agree",
			answers:  map[uint64]answer{1: ok(1, 2, 7), 2: ok(2, 2, 7), 3: ok(3, 2, 7), 4: ok(4, 2, 7)},
			wantOK:   []uint64{1, 2, 3, 4},
			wantView: raftView{2, 7},
		},
		{
			name:     "leader slow to answer, followers agree",
			answers:  map[uint64]answer{1: ok(1, 2, 7), 2: {Err: errDown}, 3: ok(3, 2, 7)},
			wantOK:   []uint64{1, 3},
			wantView: raftView{2, 7},
		},
		{
			// The isolated member still remembers leader 2, which it cannot
			// reach: nobody confirms the view, so it must not count itself.
			name:    "isolated member with stale leader",
			answers: map[uint64]answer{1: ok(1, 2, 7), 2: {Err: errDown}, 3: {Err: errDown}},
		},
		{
			name:    "isolated member after election timeout has no leader",
			answers: map[uint64]answer{1: ok(1, 0, 9), 2: {Err: errDown}, 3: {Err: errDown}},
		},
		{
			// Before CheckQuorum steps it down, a lone leader confirms itself:
			// 1/3 healthy, which Evaluate still refuses.
			name:     "lone leader confirms itself",
			answers:  map[uint64]answer{1: ok(1, 1, 7), 2: {Err: errDown}, 3: {Err: errDown}},
			wantOK:   []uint64{1},
			wantView: raftView{1, 7},
		},
		{
			name: "member behind on term disagrees",
			answers: map[uint64]answer{
				1: ok(1, 2, 7), 2: ok(2, 2, 7), 3: ok(3, 1, 6), 4: ok(4, 2, 7)},
			wantOK:   []uint64{1, 2, 4},
			wantView: raftView{2, 7},
		},
		{
			name: "split views with no quorum and no confirmation",
			answers: map[uint64]answer{
				1: ok(1, 2, 7), 2: {Err: errDown}, 3: ok(3, 1, 7)},
		},
		{
			name: "leader reported is the learner",
			answers: map[uint64]answer{
				1: ok(1, 4, 7), 2: ok(2, 4, 7), 3: ok(3, 4, 7)},
		},
		{
			name: "client URL answered as another member",
			answers: map[uint64]answer{
				1: ok(1, 2, 7), 2: ok(2, 2, 7), 3: ok(1, 2, 7)},
			wantOK:   []uint64{1, 2},
			wantView: raftView{2, 7},
		},
		{
			name: "alarm makes a member unhealthy",
			answers: map[uint64]answer{
				1: ok(1, 2, 7), 2: ok(2, 2, 7),
				3: {MemberID: 3, Leader: 2, Term: 7, Errors: []string{"memberID:3 alarm:NOSPACE"}}},
			wantOK:   []uint64{1, 2},
			wantView: raftView{2, 7},
		},
		{
			name: "learner votes do not establish a view",
			answers: map[uint64]answer{
				1: ok(1, 2, 7), 2: {Err: errDown}, 3: {Err: errDown}, 4: ok(4, 2, 7)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, view := assess(clusterMembers(), tt.answers)
			var healthy []uint64
			for _, m := range got {
				if m.Healthy {
					healthy = append(healthy, m.ID)
				} else if m.Reason == "" {
					t.Errorf("member %d unhealthy without a reason", m.ID)
				}
			}
			if diff := cmp.Diff(tt.wantOK, healthy); diff != "" {
				t.Errorf("healthy members mismatch (-want +got):\n%s\nmembers: %+v", diff, got)
			}
			if diff := cmp.Diff(tt.wantView, view); diff != "" {
				t.Errorf("view mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssessReasons(t *testing.T) {
	members := append(clusterMembers(), Member{ID: 5, Learner: true}) // added, never started
	answers := map[uint64]answer{1: ok(1, 0, 9), 2: {Err: errDown}, 3: ok(1, 2, 7)}
	got, _ := assess(members, answers)
	want := map[uint64]string{
		1: "no leader",
		2: "unreachable: connection refused",
		3: "client URL answered as member 1",
		4: "not probed",
		5: "not started: no client URL published",
	}
	for _, m := range got {
		if m.Reason != want[m.ID] {
			t.Errorf("member %d reason = %q, want %q", m.ID, m.Reason, want[m.ID])
		}
	}
}
