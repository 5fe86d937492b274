package e2e

import (
	"fmt"
	"os"
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
	converged time.Time // three voters, manifests applied
	cleanJoin joinFigures
	snapshot  []objectState
}

// join starts nodeagent on the four Pis together, as a freshly flashed
// homelab boots, and waits until they are one cluster: three voters, the
// manifests applied, the agent in step. Nothing gets in the way, so its figures are a clean join's; the
// faults of a join (a blocked etcd peer port, an agent killed mid-join) are
// the replacement Pi's, at the end (replacedAfterRemoval).
func (sc *scenario) join(t *testing.T) {
	sc.started = time.Now()
	sc.h.parallel(t, "starting nodeagent", func(n *node) error {
		_, err := n.exec("systemctl", "start", "--no-block", "nodeagent.service")
		return err
	})
	poll(t, "three voting members, all joined", joinTimeout, pollEvery, func() error { return sc.allJoined() })
	sc.converged = time.Now()
	poll(t, agentName+" joined as an agent", joinTimeout, pollEvery, func() error { return sc.agentJoined() })
	agentIn := time.Since(sc.started).Round(time.Millisecond)
	if got := sc.rs.downloads.Load(); got < 4 {
		t.Errorf("release server served the binary %d times, want >= 4 (one per node)", got)
	}
	sc.cleanJoin = sc.measureJoin(t)
	sc.sum.add("join", "ok", fmt.Sprintf("3 voters, manifests applied after %s; the agent in step after %s",
		sc.cleanJoin.total.Round(time.Millisecond), agentIn))
}

// killMidJoin waits for the node's agent to enter the k3s phase and kills
// it with SIGKILL; systemd's Restart=on-failure brings it back.
func (sc *scenario) killMidJoin(t *testing.T, n *node, since time.Time) {
	poll(t, n.name+" in the k3s phase", joinTimeout, 500*time.Millisecond, func() error {
		entries, err := n.agentJournal()
		if err != nil {
			return err
		}
		if _, ok := first(entries, since, "phase started", "k3s"); !ok {
			return fmt.Errorf("no 'phase started' k3s yet")
		}
		return nil
	})
	n.mustExec(t, "systemctl", "kill", "--signal=SIGKILL", "--kill-who=main", "nodeagent.service")
	sc.sum.add("kill -9 mid-join", "done", n.name+" agent killed in the k3s phase")
}

// checkBlocked watches the witness's etcd for blockedWindow: name must not
// become a voter while its peers drop its 2380/tcp. A window in which the
// witness's etcd could not be read at least once proves nothing, and fails.
func (sc *scenario) checkBlocked(t *testing.T, witness *node, name string) {
	deadline := time.Now().Add(blockedWindow)
	seen := 0
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := witness.status()
		switch {
		case err != nil:
			lastErr = err
		case st.Etcd == nil:
			lastErr = fmt.Errorf("status shows no etcd: %v", st.Problems)
		default:
			seen++
			for _, m := range st.Etcd.Members {
				if strings.HasPrefix(m.Name, name+"-") && !m.Learner && m.Healthy {
					t.Fatalf("%s became a healthy voter while its peers drop its 2380/tcp: %+v", name, st.Etcd)
				}
			}
		}
		time.Sleep(pollEvery) // sampling a window in which nothing may happen
	}
	if seen == 0 {
		t.Fatalf("%s's etcd members were never readable in %s of the 2380 block: %v", witness.name, blockedWindow, lastErr)
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
