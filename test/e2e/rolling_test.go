package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// rollingRestart: a cluster-file change that alters k3s's config reaches
// all three servers at the same moment; each restarts k3s in its turn, so
// no two are down together and etcd keeps quorum throughout.
func (sc *scenario) rollingRestart(t *testing.T) {
	changed := bytes.Replace(sc.h.cluster, []byte("retention: 5"), []byte("retention: 7"), 1)
	if bytes.Equal(changed, sc.h.cluster) {
		t.Fatal("the cluster file has no etcd snapshot retention to change")
	}
	src := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(src, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string]time.Duration{}
	for _, n := range sc.h.each() {
		before[n.name] = n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic")
	}
	agentBefore := sc.agentStarted()
	start := time.Now()
	sc.h.parallel(t, "writing the changed cluster file", func(n *node) error {
		return n.c.CopyIn(src, "/etc/nodeagent/cluster.yaml")
	})
	sc.h.cluster = changed
	for _, n := range sc.h.each() {
		poll(t, n.name+" restarted k3s and in step", 5*time.Minute, pollEvery, func() error {
			if n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic") == before[n.name] {
				return fmt.Errorf("k3s not restarted yet; agent: %s", n.unitProp("nodeagent.service", "StatusText"))
			}
			if st := n.unitProp("nodeagent.service", "StatusText"); st != "in step" {
				return fmt.Errorf("agent: %s", st)
			}
			return nil
		})
	}
	order := checkOneDownAtATime(t, sc.h.each())
	// Snapshot retention is a server setting: the agent's k3s config is
	// unchanged, so its k3s-agent keeps running.
	if sc.agentStarted() != agentBefore {
		t.Errorf("%s restarted k3s-agent for a change of the servers' etcd settings", agentName)
	}
	for _, n := range sc.h.each() {
		// Logged by the restart-turn child and relayed by the daemon.
		entries := n.journalUntil(t, "restart turn claimed", func(entries []entry) error {
			if len(all(entries, start, "restart lease claimed")) == 0 {
				return fmt.Errorf("no 'restart lease claimed' since %s", start.Format(time.TimeOnly))
			}
			return nil
		})
		claims := all(entries, start, "restart lease claimed")
		if len(claims) != 1 {
			t.Errorf("%s claimed its restart turn %d times, want once", n.name, len(claims))
		}
		for _, e := range claims {
			if e.Fields["CHILD"] != "restart-turn" {
				t.Errorf("%s: the claim is not the daemon's relay of its restart-turn child: CHILD=%q", n.name, e.Fields["CHILD"])
			}
		}
	}
	sc.sum.add("rolling restart", "ok", fmt.Sprintf("all in step after %s: %s", time.Since(start).Round(time.Millisecond), strings.Join(order, ", then ")))
}

// checkOneDownAtATime checks that the last k3s restarts of nodes did not
// overlap: each k3s was down from leaving active to entering it again, and
// the next went down only after it was back. The containers share the
// kernel, so the monotonic timestamps compare. It returns the order, with
// each down time, for the summary.
func checkOneDownAtATime(t *testing.T, nodes []*node) []string {
	t.Helper()
	type window struct {
		node        string
		down, upped time.Duration
	}
	var windows []window
	for _, n := range nodes {
		windows = append(windows, window{n.name,
			n.monotonicProp("k3s.service", "ActiveExitTimestampMonotonic"),
			n.monotonicProp("k3s.service", "ActiveEnterTimestampMonotonic")})
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i].down < windows[j].down })
	var order []string
	for i, w := range windows {
		order = append(order, fmt.Sprintf("%s down %s", w.node, (w.upped-w.down).Round(time.Millisecond)))
		if w.upped < w.down {
			t.Errorf("%s: k3s entered active (%s) before it left it (%s)", w.node, w.upped, w.down)
		}
		if i > 0 && w.down < windows[i-1].upped {
			t.Errorf("k3s on %s went down %s before k3s on %s was back: two servers down at once",
				w.node, (windows[i-1].upped - w.down).Round(time.Millisecond), windows[i-1].node)
		}
	}
	return order
}
