package serverwork

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

func member(id uint64, name string, healthy bool) quorum.Member {
	return quorum.Member{ID: id, Name: name, Healthy: healthy}
}

func TestDecideRemoveNode(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pi41, pi5 := member(1, "pi4-1-0a0b0c0d", true), member(3, "pi5-5e5e5e5e", true)
	dead := member(2, "pi4-2-1a2b3c4d", false)
	notReady := &NodeHealth{Ready: false, Heartbeat: now.Add(-time.Hour)}
	tests := []struct {
		name    string
		in      RemoveNodeInput
		refused string // substring; "" when it goes on
		force   bool   // whether --force turns the refusal into a plan
		after   string // verdict after removal when it goes on
	}{
		{name: "dead etcd node, NotReady: removed",
			in:    RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, dead, pi5}},
			after: "2/2 voters healthy, need 2"},
		{name: "healthy etcd member",
			in:      RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, member(2, "pi4-2-1a2b3c4d", true), pi5}},
			refused: "its etcd member pi4-2-1a2b3c4d is healthy", force: true},
		{name: "Ready Node with a fresh heartbeat",
			in:      RemoveNodeInput{Node: &NodeHealth{Ready: true, Heartbeat: now.Add(-10 * time.Second)}, Members: []quorum.Member{pi41, dead, pi5}},
			refused: "its Node is Ready, last heartbeat 10s ago", force: true},
		{name: "Ready Node whose heartbeat is stale: the controller has not caught up",
			in:    RemoveNodeInput{Node: &NodeHealth{Ready: true, Heartbeat: now.Add(-5 * time.Minute)}, Members: []quorum.Member{pi41, dead, pi5}},
			after: "2/2 voters healthy, need 2"},
		{name: "no quorum to remove with (3 voters, 2 down)",
			in:      RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, dead, member(3, "pi5-5e5e5e5e", false)}},
			refused: "not safe to remove etcd member pi4-2-1a2b3c4d: etcd has no quorum now (1/3 voters healthy, need 2)", force: true},
		{name: "5 voters, 2 down: removing one keeps 3/4",
			in: RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, dead, pi5,
				member(4, "pi6-6e6e6e6e", false), member(5, "pi7-7e7e7e7e", true)}},
			after: "3/4 voters healthy, need 3"},
		{name: "an agent (no etcd member), NotReady",
			in:    RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, pi5}},
			after: "2/2 voters healthy, need 2"},
		{name: "an agent that is alive",
			in:      RemoveNodeInput{Node: &NodeHealth{Ready: true, Heartbeat: now}, Members: []quorum.Member{pi41, pi5}},
			refused: "its Node is Ready", force: true},
		{name: "stale learner",
			in:    RemoveNodeInput{Node: notReady, Members: []quorum.Member{pi41, {ID: 2, Name: "pi4-2-1a2b3c4d", Learner: true}, pi5}},
			after: "2/2 voters healthy, need 2"},
		{name: "itself: never, not even forced",
			in:      RemoveNodeInput{Self: "pi4-2", Node: notReady, Members: []quorum.Member{pi41, dead, pi5}},
			refused: "the node this runs on"},
		{name: "no Node, no member",
			in:      RemoveNodeInput{Members: []quorum.Member{pi41, pi5}},
			refused: "no Node and no etcd member named pi4-2"},
		{name: "member without a Node: k3s removes members through Nodes only",
			in:      RemoveNodeInput{Members: []quorum.Member{pi41, dead, pi5}},
			refused: "has no Node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Name, in.Now = "pi4-2", now
			if in.Self == "" {
				in.Self = "pi4-1"
			}
			plan, err := DecideRemoveNode(in)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if plan.After.String() != tt.after {
					t.Errorf("after removal %q, want %q", plan.After, tt.after)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.refused) {
				t.Fatalf("error %v, want one containing %q", err, tt.refused)
			}
			in.Force = true
			plan, err = DecideRemoveNode(in)
			if tt.force != (err == nil) {
				t.Fatalf("forced: error %v, want forceable=%v", err, tt.force)
			}
			if tt.force && (len(plan.Overridden) == 0 || !strings.Contains(strings.Join(plan.Overridden, "; "), tt.refused)) {
				t.Errorf("forced plan overrides %q, want %q among them", plan.Overridden, tt.refused)
			}
		})
	}
}

func TestDecideRemoveNodeRefusalIsNamed(t *testing.T) {
	_, err := DecideRemoveNode(RemoveNodeInput{Name: "pi4-2", Self: "pi4-1", Node: &NodeHealth{Ready: true, Heartbeat: time.Now()},
		Members: []quorum.Member{member(2, "pi4-2-1a2b3c4d", true)}, Now: time.Now()})
	if !errors.Is(err, ErrRefused) {
		t.Errorf("error %v does not wrap ErrRefused", err)
	}
}
