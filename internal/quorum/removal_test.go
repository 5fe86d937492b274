package quorum

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const pi42Peer = "https://10.0.0.12:2380"

// named is a member called name with the peer URL https://<addr>:2380.
func named(id uint64, name, addr string, healthy bool) Member {
	return Member{ID: id, Name: name, PeerURLs: []string{"https://" + addr + ":2380"}, Healthy: healthy}
}

func asLearner(m Member) Member { m.Learner = true; return m }

func TestMembersOfNode(t *testing.T) {
	members := []Member{
		named(1, "pi4-1-0a0b0c0d", "10.0.0.11", true),
		named(2, "pi4-2-1a2b3c4d", "10.0.0.12", false),
		named(3, "pi4-2x-1a2b3c4d", "10.0.0.13", false), // another node whose name starts like pi4-2
		named(4, "pi4-2-1A2B3C4D", "10.0.0.12", false),  // k3s writes lower-case hex
		named(5, "pi4-2-1a2b3c4", "10.0.0.12", false),   // 7 hex digits
		named(6, "pi4-2", "10.0.0.12", false),           // no suffix
		{ID: 7, PeerURLs: []string{pi42Peer}},           // added, never started: no name yet
	}
	var got []uint64
	for _, m := range MembersOfNode(members, "pi4-2") {
		got = append(got, m.ID)
	}
	if diff := cmp.Diff([]uint64{2}, got); diff != "" {
		t.Errorf("members of pi4-2 (-want +got):\n%s", diff)
	}
}

func TestDecideStaleMember(t *testing.T) {
	pi41 := named(1, "pi4-1-0a0b0c0d", "10.0.0.11", true)
	pi5 := named(3, "pi5-5e5e5e5e", "10.0.0.13", true)
	stale := named(2, "pi4-2-1a2b3c4d", "10.0.0.12", false)
	tests := []struct {
		name    string
		members []Member
		remove  uint64 // 0: none
		refused string // substring of the refusal; "" for none
		after   string // the verdict after removal, when removing
	}{
		{"no member of this node: nothing to do", []Member{pi41, pi5}, 0, "", ""},
		{"3 voters, the stale one down, 2 healthy left", []Member{pi41, stale, pi5}, 2, "", "2/2 voters healthy, need 2"},
		{"healthy member: another machine runs under this name",
			[]Member{pi41, named(2, "pi4-2-1a2b3c4d", "10.0.0.12", true), pi5}, 0, "is healthy", ""},
		{"peer URL of another address",
			[]Member{pi41, named(2, "pi4-2-1a2b3c4d", "10.0.0.99", false), pi5}, 0, "not this node's https://10.0.0.12:2380", ""},
		{"wrong prefix is not this node's member",
			[]Member{pi41, named(2, "pi4-2x-1a2b3c4d", "10.0.0.12", false), pi5}, 0, "", ""},
		{"3 voters, another one down too: no quorum to remove with",
			[]Member{pi41, stale, named(3, "pi5-5e5e5e5e", "10.0.0.13", false)}, 0, "etcd has no quorum now (1/3 voters healthy, need 2)", ""},
		{"2 voters, the stale one down: 1/1 would be left, but the removal needs both",
			[]Member{pi41, stale}, 0, "etcd has no quorum now (1/2 voters healthy, need 2)", ""},
		{"5 voters, stale + one more down: 3/4 left keeps quorum",
			[]Member{pi41, stale, pi5, named(4, "pi6-6e6e6e6e", "10.0.0.14", false), named(5, "pi7-7e7e7e7e", "10.0.0.15", true)},
			2, "", "3/4 voters healthy, need 3"},
		{"5 voters, stale + two more down: no quorum to remove with",
			[]Member{pi41, stale, named(3, "pi5-5e5e5e5e", "10.0.0.13", false),
				named(4, "pi6-6e6e6e6e", "10.0.0.14", false), named(5, "pi7-7e7e7e7e", "10.0.0.15", true)},
			0, "no quorum now (2/5 voters healthy, need 3)", ""},
		{"the only voter: no quorum to remove it with", []Member{stale}, 0, "no quorum now (0/1 voters healthy, need 1)", ""},
		{"stale learner (joined, never promoted): voters keep quorum",
			[]Member{pi41, asLearner(stale), pi5}, 2, "", "2/2 voters healthy, need 2"},
		{"stale learner but the voters have no quorum",
			[]Member{pi41, asLearner(stale), named(3, "pi5-5e5e5e5e", "10.0.0.13", false)}, 0, "1/2 voters healthy", ""},
		{"a healthy learner does not make up for a voter",
			[]Member{pi41, stale, named(3, "pi5-5e5e5e5e", "10.0.0.13", false), asLearner(named(4, "pi6-6e6e6e6e", "10.0.0.14", true))},
			0, "1/3 voters healthy, need 2 (1 learner(s) not counted)", ""},
		{"two members named after this node: no guess",
			[]Member{pi41, stale, named(4, "pi4-2-9f9f9f9f", "10.0.0.12", false), pi5}, 0, "2 etcd members are named after pi4-2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideStaleMember(tt.members, "pi4-2", pi42Peer)
			var got uint64
			if d.Remove != nil {
				got = d.Remove.ID
			}
			if got != tt.remove {
				t.Errorf("removes member %d, want %d (%s)", got, tt.remove, d)
			}
			if tt.refused == "" && d.Refused != "" || !strings.Contains(d.Refused, tt.refused) {
				t.Errorf("refusal %q, want one containing %q", d.Refused, tt.refused)
			}
			if tt.after != "" && d.After.String() != tt.after {
				t.Errorf("after removal %q, want %q", d.After, tt.after)
			}
		})
	}
}

func TestStaleDecisionString(t *testing.T) {
	stale := named(2, "pi4-2-1a2b3c4d", "10.0.0.12", false)
	d := DecideStaleMember([]Member{named(1, "pi4-1-0a0b0c0d", "10.0.0.11", true), stale, named(3, "pi5-5e5e5e5e", "10.0.0.13", true)}, "pi4-2", pi42Peer)
	want := "removing stale etcd member pi4-2-1a2b3c4d (unhealthy, peer https://10.0.0.12:2380); 2/2 voters healthy, need 2"
	if got := d.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRemovalCostsQuorum(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		remove  []uint64
		costs   bool
	}{
		{"3 healthy, remove one", []Member{voter(1, true), voter(2, true), voter(3, true)}, []uint64{3}, false},
		{"3, one down, remove a healthy one", []Member{voter(1, true), voter(2, true), voter(3, false)}, []uint64{2}, true},
		{"3, one down, remove the down one", []Member{voter(1, true), voter(2, true), voter(3, false)}, []uint64{3}, false},
		{"5, two down, remove a healthy one", []Member{voter(1, true), voter(2, true), voter(3, true), voter(4, false), voter(5, false)}, []uint64{1}, true},
		{"5, two down, remove a down one", []Member{voter(1, true), voter(2, true), voter(3, true), voter(4, false), voter(5, false)}, []uint64{5}, false},
		{"nothing removed, no quorum", []Member{voter(1, true), voter(2, false), voter(3, false)}, nil, true},
		{"remove the last voter", []Member{voter(1, true), learner(2, true)}, []uint64{1}, true},
		// 1/1 would be left, but the removal itself needs 2 of the 2 voters.
		{"2 voters, remove the down one", []Member{voter(1, true), voter(2, false)}, []uint64{2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RemovalCostsQuorum(tt.members, tt.remove...)
			if (err != nil) != tt.costs {
				t.Errorf("RemovalCostsQuorum = %v, want costs=%v", err, tt.costs)
			}
		})
	}
}
