package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bounds of the scenario on a 2-core CI machine.
const (
	blockedWindow = 40 * time.Second
	pollEvery     = 2 * time.Second
)

// joinTimeout bounds each wait for the cluster to converge;
// NODEAGENT_E2E_JOIN_TIMEOUT (a Go duration) shortens it when debugging.
var joinTimeout = envDuration("NODEAGENT_E2E_JOIN_TIMEOUT", 12*time.Minute)

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// scenario is the state shared by the steps of TestHomelab.
type scenario struct {
	h         *homelab
	rs        *releaseServer
	sum       *summary
	started   time.Time // agents started
	unblocked time.Time // the test's 2380 block removed
	converged time.Time // three voters, manifests applied
	snapshot  []objectState
}

// join starts the three agents together, kills pi5's agent with SIGKILL in
// the middle of its join, and checks the negative firewall case on the way:
// while pi4-1's UFW drops 2380/tcp (a rule the test adds, not nodeagent),
// pi4-2 cannot become a voter; once the rule is gone everything converges.
func (sc *scenario) join(t *testing.T) {
	pi41, pi42, pi5 := sc.h.nodes["pi4-1"], sc.h.nodes["pi4-2"], sc.h.nodes["pi5"]
	pi41.mustExec(t, "ufw", "deny", "proto", "tcp", "to", "any", "port", "2380", "comment", "e2e block")
	sc.started = time.Now()
	sc.h.parallel(t, "starting nodeagent", func(n *node) error {
		_, err := n.exec("systemctl", "start", "--no-block", "nodeagent.service")
		return err
	})
	sc.killMidJoin(t, pi5)
	poll(t, "pi4-2's k3s started", joinTimeout, pollEvery, func() error {
		if pi42.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic") == 0 {
			return fmt.Errorf("k3s.service not started on pi4-2 (nodeagent: %s)", pi42.unitProp("nodeagent.service", "StatusText"))
		}
		return nil
	})
	sc.checkBlocked(t, pi41)
	pi41.mustExec(t, "ufw", "delete", "deny", "proto", "tcp", "to", "any", "port", "2380")
	sc.unblocked = time.Now()
	sc.sum.add("firewall block on 2380", "ok", fmt.Sprintf("pi4-2 stayed out for %s, rule removed", blockedWindow))
	poll(t, "three voting members, all joined", joinTimeout, pollEvery, func() error { return sc.allJoined() })
	sc.converged = time.Now()
	if n, _ := strconv.Atoi(pi5.unitProp("nodeagent.service", "NRestarts")); n < 1 {
		t.Errorf("pi5: nodeagent.service NRestarts = %d after SIGKILL, want >= 1", n)
	}
	if got := sc.rs.downloads.Load(); got < 3 {
		t.Errorf("release server served the binary %d times, want >= 3 (one per node)", got)
	}
	sc.sum.add("join", "ok", fmt.Sprintf("3 voters after %s", sc.converged.Sub(sc.started).Round(time.Millisecond)))
}

// killMidJoin waits for the node's agent to enter the k3s phase and kills
// it with SIGKILL; systemd's Restart=on-failure brings it back.
func (sc *scenario) killMidJoin(t *testing.T, n *node) {
	poll(t, n.name+" in the k3s phase", joinTimeout, 500*time.Millisecond, func() error {
		entries, err := n.agentJournal()
		if err != nil {
			return err
		}
		if _, ok := first(entries, sc.started, "phase started", "k3s"); !ok {
			return fmt.Errorf("no 'phase started' k3s yet")
		}
		return nil
	})
	n.mustExec(t, "systemctl", "kill", "--signal=SIGKILL", "--kill-who=main", "nodeagent.service")
	sc.sum.add("kill -9 mid-join", "done", n.name+" agent killed in the k3s phase")
}

// checkBlocked watches pi4-1's etcd for blockedWindow: pi4-2 must not
// become a voter while 2380 is dropped. A window in which pi4-1's etcd
// could not be read at least once proves nothing, and fails.
func (sc *scenario) checkBlocked(t *testing.T, pi41 *node) {
	deadline := time.Now().Add(blockedWindow)
	seen := 0
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := pi41.status()
		switch {
		case err != nil:
			lastErr = err
		case st.Etcd == nil:
			lastErr = fmt.Errorf("status shows no etcd: %v", st.Problems)
		default:
			seen++
			for _, m := range st.Etcd.Members {
				if strings.HasPrefix(m.Name, "pi4-2") && !m.Learner && m.Healthy {
					t.Fatalf("pi4-2 became a healthy voter while pi4-1 drops 2380/tcp: %+v", st.Etcd)
				}
			}
		}
		time.Sleep(pollEvery) // sampling a window in which nothing may happen
	}
	if seen == 0 {
		t.Fatalf("pi4-1's etcd members were never readable in %s of the 2380 block: %v", blockedWindow, lastErr)
	}
}

// allJoined checks every node's own status: joined, quorum, three voting
// members all healthy.
func (sc *scenario) allJoined() error {
	for _, n := range sc.h.each() {
		st, err := n.status()
		if err != nil {
			return err
		}
		if err := healthyCluster(st, 3); err != nil {
			return fmt.Errorf("%s: %w (nodeagent: %s)", n.name, err, n.unitProp("nodeagent.service", "StatusText"))
		}
		if !st.Joined {
			return fmt.Errorf("%s: not joined yet (nodeagent: %s)", n.name, n.unitProp("nodeagent.service", "StatusText"))
		}
	}
	return nil
}

// healthyCluster checks that etcd has quorum and `voters` healthy voters.
func healthyCluster(st statusJSON, voters int) error {
	if st.Etcd == nil {
		return fmt.Errorf("etcd not readable: %v", st.Problems)
	}
	if !st.Etcd.Quorum {
		return fmt.Errorf("no quorum: %s", st.Etcd.Summary)
	}
	healthy := 0
	for _, m := range st.Etcd.Members {
		if !m.Learner && m.Healthy {
			healthy++
		}
	}
	if healthy != voters || len(st.Etcd.Members) != voters {
		return fmt.Errorf("%d healthy voters of %d members, want %d: %s", healthy, len(st.Etcd.Members), voters, st.Etcd.Summary)
	}
	return nil
}
