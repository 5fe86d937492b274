package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// quietWindow is how long the test watches for a forbidden apply while
// quorum is lost.
const quietWindow = 30 * time.Second

// stopNode stops the node's agent and k3s: a powered-off Pi as the others
// see it (its etcd member stops answering).
func stopNode(t *testing.T, n *node) {
	n.mustExec(t, "systemctl", "stop", "nodeagent.service", "k3s.service")
}

// oneDown: with pi5 down the cluster keeps quorum (2 of 3), pi4-1's
// status shows it degraded, and the workloads are as validate's analysis
// of pi5's failure says.
func (sc *scenario) oneDown(t *testing.T) {
	stopNode(t, sc.h.nodes["pi5"])
	var summary string
	poll(t, "pi4-1 reports quorum with pi5 down", 2*time.Minute, pollEvery, func() error {
		st, err := sc.h.nodes["pi4-1"].status()
		if err != nil {
			return err
		}
		if st.Etcd == nil || !st.Etcd.Quorum {
			return fmt.Errorf("no quorum: %+v %v", st.Etcd, st.Problems)
		}
		for _, m := range st.Etcd.Members {
			if !m.Healthy {
				summary = st.Etcd.Summary
				return nil
			}
		}
		return fmt.Errorf("every member healthy: %s", st.Etcd.Summary)
	})
	// The architecture's "Pi 5 (Storage) failure": immich-server and
	// filebrowser, which need the HDD, are down; the rest as the analysis
	// says.
	cs := sc.h.nodes["pi4-1"].clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*failureTimeout)
	defer cancel()
	waitEvicted(ctx, t, cs, "pi5")
	what := checkFailure(ctx, t, cs, failureOf(t, sc.h.capacityReport(t), "pi5"))
	sc.sum.add("pi5 down", "ok", "quorum held, degraded: "+summary+"; "+what)
}

// twoDown: with pi4-2 down as well quorum is lost; a reconcile pass on
// pi4-1 (the cluster file touched) applies nothing.
func (sc *scenario) twoDown(t *testing.T) {
	pi41 := sc.h.nodes["pi4-1"]
	stopNode(t, sc.h.nodes["pi4-2"])
	poll(t, "pi4-1 reports quorum lost", 2*time.Minute, pollEvery, func() error {
		st, err := pi41.status()
		if err != nil {
			return err
		}
		if st.Etcd != nil && st.Etcd.Quorum {
			return fmt.Errorf("quorum still reported: %s", st.Etcd.Summary)
		}
		return nil
	})
	since := time.Now()
	pi41.mustExec(t, "touch", "/etc/nodeagent/cluster.yaml")
	poll(t, "pi4-1 starts a pass", time.Minute, pollEvery, func() error {
		entries, err := pi41.agentJournal()
		if err != nil {
			return err
		}
		if _, ok := first(entries, since, "phase started", ""); !ok {
			return fmt.Errorf("no phase started since the touch")
		}
		return nil
	})
	deadline := time.Now().Add(quietWindow)
	for time.Now().Before(deadline) {
		entries, err := pi41.agentJournal()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := first(entries, since, "phase started", "manifests"); ok {
			t.Fatalf("pi4-1 started applying manifests without quorum: %s", e.Message)
		}
		time.Sleep(pollEvery) // sampling a window in which nothing may happen
	}
	// What an operator sees in `systemctl status nodeagent`: a wait.
	status := pi41.unitProp("nodeagent.service", "StatusText")
	if !strings.Contains(status, "waiting") {
		t.Errorf("pi4-1 nodeagent STATUS = %q without quorum, want a wait", status)
	}
	sc.sum.add("pi4-2 + pi5 down", "ok", "quorum lost, nothing applied; agent: "+status)
}

// recover: both nodes come back, the cluster converges, and no object was
// re-created or rewritten through the outage.
func (sc *scenario) recover(t *testing.T) {
	start := time.Now()
	for _, name := range []string{"pi4-2", "pi5"} {
		sc.h.nodes[name].mustExec(t, "systemctl", "start", "--no-block", "k3s.service", "nodeagent.service")
	}
	poll(t, "three voting members again", joinTimeout, pollEvery, func() error { return sc.allJoined() })
	rejoined := time.Since(start)
	if diff := cmp.Diff(sc.snapshot, snapshotVia(t, sc.h.nodes["pi5"])); diff != "" {
		t.Errorf("objects changed through the outage (-before +after):\n%s", diff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*workloadTimeout)
	defer cancel()
	waitAllRunning(ctx, t, sc.h.nodes["pi4-1"].clientset(t), sc.h.capacityReport(t), "after the recovery")
	running := time.Since(start)
	sc.settled(t)
	sc.sum.add("recovery", "ok", fmt.Sprintf("3 voters again after %s, every workload Running after %s",
		rejoined.Round(time.Millisecond), running.Round(time.Millisecond)))
}

// settled waits until every k3s is active and every agent in step. A k3s
// that led a controller lease through the quorum loss exits once etcd
// answers again (k3s's leader election is fatal on loss, and the stand-in
// follows it) and systemd starts it anew: the next step must not begin
// while that restart is still going on, or its restarts would overlap an
// outage that no agent made (seen: pi4-1 activating while pi4-2 took its
// turn, as etcd still counted pi4-1's member healthy).
func (sc *scenario) settled(t *testing.T) {
	// All three in one look, so a k3s that exits while another is checked
	// is not missed.
	poll(t, "every k3s active and every agent in step", 5*time.Minute, pollEvery, func() error {
		for _, n := range sc.h.each() {
			if st := n.unitProp("k3s.service", "ActiveState"); st != "active" {
				return fmt.Errorf("%s: k3s.service %s", n.name, st)
			}
			if st := n.unitProp("nodeagent.service", "StatusText"); st != "in step" {
				return fmt.Errorf("%s: agent: %s", n.name, st)
			}
		}
		return nil
	})
}
