package quorum

import (
	"fmt"
	"regexp"
	"strings"
)

// memberSuffix is the "-<8 hex>" k3s appends to the node name to name the
// node's etcd member (pkg/etcd/etcd.go setName: node name, "-", the first 8
// hex digits of a random UUID).
var memberSuffix = regexp.MustCompile(`^-[0-9a-f]{8}$`)

// MembersOfNode returns the members k3s named after node: "<node>-<8 hex>".
// A member "pi4-2x-1a2b3c4d" is not pi4-2's.
func MembersOfNode(members []Member, node string) []Member {
	var out []Member
	for _, m := range members {
		if rest, ok := strings.CutPrefix(m.Name, node); ok && memberSuffix.MatchString(rest) {
			out = append(out, m)
		}
	}
	return out
}

// AfterRemoval is the quorum arithmetic over the members left once the
// members with the given IDs are gone.
func AfterRemoval(members []Member, remove ...uint64) Verdict {
	gone := map[uint64]bool{}
	for _, id := range remove {
		gone[id] = true
	}
	var left []Member
	for _, m := range members {
		if !gone[m.ID] {
			left = append(left, m)
		}
	}
	return Evaluate(left)
}

// RemovalCostsQuorum is nil when the members with the given IDs can be
// removed without losing quorum: the healthy voters are a majority now, as
// a removal is a raft change that a majority of the current voters must
// commit, and the remaining healthy voters are a majority of the remaining
// voters. Otherwise it says why not. etcd itself refuses a MemberRemove
// that leaves too few started members (server/etcdserver/server.go
// mayRemoveMember, with strict reconfig checks, which k3s enables); this
// check is stricter: health, not started.
func RemovalCostsQuorum(members []Member, remove ...uint64) error {
	if now := Evaluate(members); !now.Quorum {
		return fmt.Errorf("etcd has no quorum now (%s): a removal needs a majority of the current voters", now)
	}
	v := AfterRemoval(members, remove...)
	if v.Voters == 0 {
		return fmt.Errorf("no voter would be left")
	}
	if !v.Quorum {
		return fmt.Errorf("it would leave %s", v)
	}
	return nil
}

// StaleDecision is what to do about this node's own etcd member before k3s
// first starts here.
type StaleDecision struct {
	// Remove is the member to remove; nil when there is nothing to remove
	// (Refused empty) or it may not be removed (Refused says why).
	Remove *Member
	// After is the quorum arithmetic once Remove is gone.
	After   Verdict
	Refused string
}

// DecideStaleMember decides whether this node's etcd member, left behind by
// an earlier life of the node (a re-flashed SD card), may be removed so
// that k3s can join under the same node name: k3s refuses to join while a
// member named "<node>-<8 hex>" exists ("duplicate node name found",
// pkg/etcd/etcd.go join). It is pure; members come from an Observe.
//
// The member is removed only if all hold: it is not healthy (nothing
// answers for it: this node's k3s never ran since the wipe), its peer URL
// is this node's own (https://<address>:2380), and the remaining healthy
// voters are a majority of the remaining voters. Two members named after
// this node are not guessed between.
func DecideStaleMember(members []Member, node, peerURL string) StaleDecision {
	mine := MembersOfNode(members, node)
	switch {
	case len(mine) == 0:
		return StaleDecision{}
	case len(mine) > 1:
		return StaleDecision{Refused: fmt.Sprintf("%d etcd members are named after %s (%s): remove the stale one by hand",
			len(mine), node, memberNames(mine))}
	}
	m := mine[0]
	if m.Healthy {
		return StaleDecision{Refused: fmt.Sprintf("etcd member %s is healthy: another machine runs as %s", m.Name, node)}
	}
	if !hasPeerURL(m, peerURL) {
		return StaleDecision{Refused: fmt.Sprintf("etcd member %s has peer URL %s, not this node's %s",
			m.Name, strings.Join(m.PeerURLs, ","), peerURL)}
	}
	if err := RemovalCostsQuorum(members, m.ID); err != nil {
		return StaleDecision{Refused: fmt.Sprintf("not safe to remove etcd member %s: %v", m.Name, err)}
	}
	return StaleDecision{Remove: &m, After: AfterRemoval(members, m.ID)}
}

// String says what was decided, for STATUS and the journal:
// "removing stale etcd member pi4-2-1a2b3c4d (unhealthy, peer
// https://10.0.0.12:2380); 2/2 voters healthy, need 2".
func (d StaleDecision) String() string {
	switch {
	case d.Remove != nil:
		return fmt.Sprintf("removing stale etcd member %s (unhealthy, peer %s); %s",
			d.Remove.Name, strings.Join(d.Remove.PeerURLs, ","), d.After)
	case d.Refused != "":
		return "not removing: " + d.Refused
	}
	return "no etcd member of this node"
}

func hasPeerURL(m Member, url string) bool {
	for _, u := range m.PeerURLs {
		if strings.TrimSuffix(u, "/") == strings.TrimSuffix(url, "/") {
			return true
		}
	}
	return false
}

func memberNames(ms []Member) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = displayName(m)
	}
	return strings.Join(names, ", ")
}
