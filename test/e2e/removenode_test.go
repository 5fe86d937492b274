package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

// removeNodeTimeout bounds `nodeagent remove-node`, which waits up to
// 2 min for evictions and 2 min for k3s to remove the member.
const removeNodeTimeout = 6 * time.Minute

// heartbeatFresh is remove-node's: a Ready Node with a heartbeat younger
// than this looks alive (internal/serverwork/removedecide.go).
const heartbeatFresh = time.Minute

var healthyRefusal = regexp.MustCompile(`refusing to remove the node pi4-2: .*its etcd member pi4-2-[0-9a-f]{8} is healthy`)

// removeNode: `nodeagent remove-node pi4-2` on pi4-1 refuses while pi4-2
// is healthy and changes nothing; once pi4-2 is gone for good it removes
// its Node and etcd member, and pi4-1 and pi5 go on as two healthy voters.
func (sc *scenario) removeNode(t *testing.T) {
	pi41, pi42 := sc.h.nodes["pi4-1"], sc.h.nodes["pi4-2"]
	out, err := pi41.execFor(removeNodeTimeout, "nodeagent", "remove-node", "pi4-2")
	if err == nil {
		t.Fatalf("remove-node pi4-2 succeeded while pi4-2 is healthy:\n%s", out)
	}
	if !healthyRefusal.MatchString(out + err.Error()) {
		t.Errorf("remove-node pi4-2 while healthy: want a refusal matching %q, got:\n%s\n%v", healthyRefusal, out, err)
	}
	sc.checkStillThree(t, pi41)

	stopNode(t, pi42)
	sc.h.retire(t, pi42, "removed")
	waitRemovable(t, pi41, "pi4-2")
	out, err = pi41.execFor(removeNodeTimeout, "nodeagent", "remove-node", "pi4-2")
	if err != nil {
		t.Fatalf("remove-node pi4-2 with pi4-2 stopped: %v\n%s", err, out)
	}
	if !strings.Contains(out, "removed node pi4-2: etcd member pi4-2-") {
		t.Errorf("remove-node pi4-2 printed no removal of its member:\n%s", out)
	}
	poll(t, "pi4-1 and pi5: 2 healthy voters, no pi4-2", 2*time.Minute, pollEvery, func() error {
		for _, n := range sc.h.each() {
			st, err := n.status()
			if err != nil {
				return err
			}
			if err := healthyCluster(st, 2); err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if mine := quorum.MembersOfNode(st.Etcd.Members, "pi4-2"); len(mine) > 0 {
				return fmt.Errorf("%s still lists %s", n.name, mine[0].Name)
			}
			if node, err := n.nodeObject(context.Background(), "pi4-2"); err != nil || node != nil {
				return fmt.Errorf("%s: Node pi4-2 still there (err %v)", n.name, err)
			}
		}
		return nil
	})
	if got := len(sc.h.each()); got != 2 {
		t.Errorf("%d nodes running, want pi4-1 and pi5", got)
	}
	sc.sum.add("remove-node", "ok", "refused while pi4-2 healthy; once stopped, its Node and member removed: 2 voters")
}

// checkStillThree: the refused remove-node changed nothing.
func (sc *scenario) checkStillThree(t *testing.T, n *node) {
	st, err := n.status()
	if err != nil {
		t.Fatal(err)
	}
	if err := healthyCluster(st, 3); err != nil {
		t.Errorf("%s after the refused remove-node: %v", n.name, err)
	}
	node, err := n.nodeObject(context.Background(), "pi4-2")
	switch {
	case err != nil:
		t.Fatal(err)
	case node == nil:
		t.Errorf("the refused remove-node deleted Node pi4-2")
	case node.Spec.Unschedulable:
		t.Errorf("the refused remove-node cordoned Node pi4-2")
	}
}

// waitRemovable waits until remove-node's liveness rules hold for name as
// n sees it: its etcd member unhealthy, its Node's Ready heartbeat older
// than a minute (the stand-in never renews it).
func waitRemovable(t *testing.T, n *node, name string) {
	poll(t, name+" looks gone to "+n.name, 3*time.Minute, pollEvery, func() error {
		st, err := n.status()
		if err != nil {
			return err
		}
		if st.Etcd == nil {
			return fmt.Errorf("etcd not readable: %v", st.Problems)
		}
		for _, m := range quorum.MembersOfNode(st.Etcd.Members, name) {
			if m.Healthy {
				return fmt.Errorf("member %s still healthy", m.Name)
			}
		}
		node, err := n.nodeObject(context.Background(), name)
		if err != nil || node == nil {
			return fmt.Errorf("reading Node %s: %v (exists: %v)", name, err, node != nil)
		}
		if age := time.Since(readyHeartbeat(node)); age < heartbeatFresh {
			return fmt.Errorf("Node %s heartbeat %s old", name, age.Round(time.Second))
		}
		return nil
	})
}

// replacedAfterRemoval: a new Pi takes the removed pi4-2's name and
// address later; with no member of pi4-2 left there is nothing stale, and
// it joins as the third voter. (Re-flashing pi5 instead, with pi4-2 gone,
// cannot work on any k3s: one healthy voter of two has no quorum, so etcd
// can neither remove pi5's old member nor add a new one.)
//
// The new Pi's join meets the faults a join must get through: its peers'
// UFW drops its 2380/tcp for blockedWindow (rules the test adds, not
// nodeagent), during which it must not become a voter, and its agent is
// killed with SIGKILL in the k3s phase (systemd brings it back).
func (sc *scenario) replacedAfterRemoval(t *testing.T) {
	peers := []*node{sc.h.nodes["pi4-1"], sc.h.nodes["pi5"]}
	block := []string{"proto", "tcp", "from", nodeAddrs["pi4-2"], "to", "any", "port", "2380"}
	var unblocked time.Time
	blocked := joinFault{
		name: "2380 blocked",
		before: func(t *testing.T) {
			for _, p := range peers {
				p.mustExec(t, append([]string{"ufw", "insert", "1", "deny"}, append(block, "comment", "e2e block")...)...)
			}
		},
		during: func(t *testing.T, n *node, since time.Time) {
			sc.killMidJoin(t, n, since)
			sc.checkBlocked(t, peers[0], n.name)
			for _, p := range peers {
				p.mustExec(t, append([]string{"ufw", "delete", "deny"}, block...)...)
			}
			unblocked = time.Now()
			sc.sum.add("firewall block on 2380", "ok", fmt.Sprintf("%s stayed out for %s, rules removed", n.name, blockedWindow))
		},
	}
	r := sc.rebuild(t, "pi4-2", blocked)
	if n, _ := strconv.Atoi(sc.h.nodes["pi4-2"].unitProp("nodeagent.service", "NRestarts")); n < 1 {
		t.Errorf("pi4-2: nodeagent.service NRestarts = %d after SIGKILL, want >= 1", n)
	}
	sc.sum.add("bench: block removed → pi4-2 a healthy voter", "figure", r.voterAt.Sub(unblocked).Round(time.Millisecond).String())
	sc.sum.add("pi4-2 replaced after removal", "ok", fmt.Sprintf("3 voters again, new member %s", r.newMember))
}
