package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/quorum"
)

// rebuilt is what one rebuild saw, for the checks and the figures.
type rebuilt struct {
	name       string
	oldMember  string    // the etcd member of the node's previous card
	newMember  string    // the one its rebuilt k3s added
	voterAt    time.Time // the first poll that saw newMember a healthy voter
	agentStart time.Time // nodeagent.service's first journal entry
	k3sStart   time.Time // k3s.service's first journal entry
}

// rebuild wipes the node as a re-flashed SD card would (a new container
// from the pristine rootfs, same address and hostname) and installs it as
// its user would, while the other nodes keep running. It then waits until
// every node shows the same number of healthy voters as before, with one
// member of the node, a new one; checks that the agent removed the stale
// member itself and that no workload object changed; and records the
// figures in the summary. Faults, when given, run around the install: the
// first part before it, the second while the new card joins.
func (sc *scenario) rebuild(t *testing.T, name string, faults ...joinFault) rebuilt {
	h := sc.h
	old := h.nodes[name]
	witness := sc.witness(t, name)
	r := rebuilt{name: name}
	voters := len(h.each())
	if old.c.Running() {
		r.oldMember = sc.onlyMember(t, witness, name, voters)
	} else {
		// Removed for good earlier (remove-node): a new Pi takes the name,
		// and there is no member of it to replace.
		sc.noMember(t, witness, name, voters)
		voters++
	}
	before := snapshotVia(t, witness)
	if old.c.Running() {
		h.retire(t, old, fmt.Sprintf("card-%d", h.boots[name]))
	}
	n := h.bootNode(name, old.netns)
	h.nodes[name] = n
	n.clearFirewall(t)
	if name == "pi5" {
		exposeDisk(t, n, h.disk)
	}
	h.prepare(t, n)
	for _, f := range faults {
		f.before(t)
	}
	installed := time.Now()
	if err := n.installDeb(); err != nil {
		t.Fatalf("%s: installing the .deb on the rebuilt card: %v", name, err)
	}
	h.checkInstalled(t, n)
	for _, f := range faults {
		f.during(t, n, installed)
	}
	poll(t, fmt.Sprintf("%s rejoined: %d healthy voters, one new member of %s", name, voters, name),
		joinTimeout, pollEvery, func() error { return sc.rejoined(&r, voters) })
	if r.oldMember != "" {
		checkStaleRemoved(t, n, r.oldMember)
	}
	if diff := cmp.Diff(before, snapshotVia(t, n)); diff != "" {
		t.Errorf("objects changed through the rebuild of %s (-before +after):\n%s", name, diff)
	}
	sc.settled(t)
	sc.benchRebuild(t, n, &r, faults)
	return r
}

// joinFault is something that gets in the way of a joining node: before
// runs before its package is installed, during while it joins.
type joinFault struct {
	name   string
	before func(t *testing.T)
	during func(t *testing.T, n *node, since time.Time)
}

// witness is a running node other than name, whose view is read before
// name is wiped.
func (sc *scenario) witness(t *testing.T, name string) *node {
	for _, n := range sc.h.each() {
		if n.name != name {
			return n
		}
	}
	t.Fatalf("no running node besides %s", name)
	return nil
}

// onlyMember checks the cluster is whole as the witness sees it and
// returns the name of the one etcd member of node.
func (sc *scenario) onlyMember(t *testing.T, witness *node, node string, voters int) string {
	st, err := witness.status()
	if err != nil {
		t.Fatal(err)
	}
	if err := healthyCluster(st, voters); err != nil {
		t.Fatalf("%s before the wipe of %s: %v", witness.name, node, err)
	}
	mine := quorum.MembersOfNode(st.Etcd.Members, node)
	if len(mine) != 1 {
		t.Fatalf("%s before the wipe: %d etcd members of %s, want 1: %s", witness.name, len(mine), node, st.Etcd.Summary)
	}
	return mine[0].Name
}

// noMember checks the cluster is whole without node as the witness sees
// it: `voters` healthy voters, none of them node's.
func (sc *scenario) noMember(t *testing.T, witness *node, node string, voters int) {
	st, err := witness.status()
	if err != nil {
		t.Fatal(err)
	}
	if err := healthyCluster(st, voters); err != nil {
		t.Fatalf("%s before %s comes back: %v", witness.name, node, err)
	}
	if mine := quorum.MembersOfNode(st.Etcd.Members, node); len(mine) != 0 {
		t.Fatalf("%s before %s comes back: it still has member %s", witness.name, node, mine[0].Name)
	}
}

// rejoined checks every running node's status: joined, quorum, `voters`
// healthy voters and nothing else, exactly one member of the rebuilt node
// (named <node>-<8 hex>, quorum.MembersOfNode) and not its old one. It notes when a poll first saw the new member as a
// healthy voter.
func (sc *scenario) rejoined(r *rebuilt, voters int) error {
	for _, n := range sc.h.each() {
		st, err := n.status()
		if err != nil {
			return err
		}
		if st.Etcd != nil {
			mine := quorum.MembersOfNode(st.Etcd.Members, r.name)
			if r.voterAt.IsZero() && len(mine) == 1 && mine[0].Name != r.oldMember && !mine[0].Learner && mine[0].Healthy {
				r.voterAt = time.Now()
			}
		}
		if err := healthyCluster(st, voters); err != nil {
			return fmt.Errorf("%s: %w (nodeagent: %s)", n.name, err, n.unitProp("nodeagent.service", "StatusText"))
		}
		if !st.Joined {
			return fmt.Errorf("%s: not joined yet (nodeagent: %s)", n.name, n.unitProp("nodeagent.service", "StatusText"))
		}
		mine := quorum.MembersOfNode(st.Etcd.Members, r.name)
		switch {
		case len(mine) != 1:
			return fmt.Errorf("%s: %d members of %s, want 1: %s", n.name, len(mine), r.name, st.Etcd.Summary)
		case mine[0].Name == r.oldMember:
			return fmt.Errorf("%s: %s's member is still the old card's %s", n.name, r.name, r.oldMember)
		}
		r.newMember = mine[0].Name
	}
	return nil
}

// checkStaleRemoved: the rebuilt node's agent says it removed its old
// member (quorum.StaleDecision.String(), in the journal and STATUS).
func checkStaleRemoved(t *testing.T, n *node, oldMember string) {
	want := "removing stale etcd member " + oldMember + " "
	n.journalUntil(t, "says it removed its stale member "+oldMember, func(entries []entry) error {
		for _, e := range entries {
			if strings.Contains(e.Message, want) {
				return nil
			}
		}
		return fmt.Errorf("no entry with %q in %d entries", want, len(entries))
	})
}

// snapshotVia reads the inventoried objects through n's API server. A
// (re)started apiserver answers before its discovery lists the CRDs'
// kinds: read until every inventoried kind maps.
func snapshotVia(t *testing.T, n *node) []objectState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var objs []objectState
	poll(t, n.name+" reading every inventoried object", 2*time.Minute, pollEvery, func() error {
		var err error
		objs, _, err = n.inventorySnapshot(ctx)
		return err
	})
	return objs
}

// retire stops the node's container for good (a card pulled, a Pi gone),
// keeping its journal for saveJournals under why.
func (h *homelab) retire(t *testing.T, n *node, why string) {
	t.Helper()
	if h.retired == "" {
		dir, err := os.MkdirTemp("", "nodeagent-e2e-retired-")
		if err != nil {
			t.Fatal(err)
		}
		h.retired = dir
	}
	if err := n.saveJournal(filepath.Join(h.retired, n.name+"."+why+".journal")); err != nil {
		t.Logf("%s: keeping the journal of the retired container: %v", n.name, err)
	}
	n.c.Stop()
	if n.c.Running() {
		t.Fatalf("%s: container %s still runs after Stop", n.name, n.c.Name())
	}
}

// clearFirewall empties the filter tables of the node's network namespace,
// which outlives the container: a re-flashed Pi boots with none of the
// rules its previous card's UFW loaded into the kernel.
func (n *node) clearFirewall(t *testing.T) {
	t.Helper()
	n.mustExec(t, "sh", "-ec", `for c in iptables ip6tables; do
	$c -F; $c -X
	for ch in INPUT FORWARD OUTPUT; do $c -P $ch ACCEPT; done
done`)
	const empty = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT"
	for _, c := range []string{"iptables", "ip6tables"} {
		if got := strings.TrimSpace(n.mustExec(t, c, "-S")); got != empty {
			t.Fatalf("%s: %s -S after clearing =\n%s", n.name, c, got)
		}
	}
}

// copyFiles copies the regular files of src into dst.
func copyFiles(src, dst string) error {
	files, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
