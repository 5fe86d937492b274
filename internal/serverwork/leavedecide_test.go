package serverwork

import (
	"errors"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

func urlMember(id uint64, name string, healthy bool) quorum.Member {
	m := member(id, name, healthy)
	m.ClientURLs = []string{"https://10.0.0." + string(rune('0'+id)) + ":2379"}
	return m
}

func TestDecideLeave(t *testing.T) {
	self := urlMember(1, "pi4-1-0a0b0c0d", true)
	pi42, pi5 := urlMember(2, "pi4-2-1a2b3c4d", true), urlMember(3, "pi5-5e5e5e5e", true)
	sick := urlMember(2, "pi4-2-1a2b3c4d", false)
	learner := urlMember(4, "pi4-4-44444444", true)
	learner.Learner = true
	tests := []struct {
		name    string
		members []quorum.Member
		refused string // substring; "" when it goes on
		after   string
		peer    string
	}{
		{name: "three healthy voters: two stay", members: []quorum.Member{self, pi42, pi5},
			after: "2/2 voters healthy, need 2", peer: "https://10.0.0.2:2379"},
		{name: "one of the others down: the last healthy one would be alone", members: []quorum.Member{self, sick, pi5},
			refused: "leaving would cost etcd its quorum"},
		{name: "two healthy servers: the other keeps a quorum of one", members: []quorum.Member{self, pi5},
			after: "1/1 voters healthy, need 1", peer: "https://10.0.0.3:2379"},
		{name: "two servers, the other down", members: []quorum.Member{self, sick},
			refused: "leaving would cost etcd its quorum"},
		{name: "the last server", members: []quorum.Member{self},
			refused: "no voter would be left"},
		{name: "the peer is a voter, never a learner", members: []quorum.Member{self, learner, pi42, pi5},
			after: "2/2 voters healthy, need 2 (1 learner(s) not counted)", peer: "https://10.0.0.2:2379"},
		{name: "no member of its own: nothing to wait for", members: []quorum.Member{pi42, pi5},
			after: "2/2 voters healthy, need 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := DecideLeave("pi4-1", tt.members)
			if tt.refused != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("err = %v, want a refusal with %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.After.String(); got != tt.after {
				t.Errorf("after = %q, want %q", got, tt.after)
			}
			if plan.Peer != tt.peer {
				t.Errorf("peer = %q, want %q", plan.Peer, tt.peer)
			}
		})
	}
}
