package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// The k3s versions of the upgrade steps: the release server serves a
// stand-in variant for each (test/tools/build-k3s-standin.sh), which
// reports its version as `k3s --version` and as its Node's kubelet version.
const (
	k3sUpgraded = "v1.33.6+k3s1" // a good upgrade from k3sVersion
	k3sBroken   = "v1.34.1+k3s1" // its k3s server exits 1 at start
)

var (
	k3sVersionLine = regexp.MustCompile(`(?m)^  version: v\S+$`)
	k3sSHA256Line  = regexp.MustCompile(`(?m)^  sha256: \{amd64: [0-9a-f]{64}\}$`)
)

// withK3s is the cluster file asking for k3s version with the binary hash
// sha.
func withK3s(t *testing.T, cluster []byte, version, sha string) []byte {
	t.Helper()
	if len(k3sVersionLine.FindAll(cluster, -1)) != 1 || len(k3sSHA256Line.FindAll(cluster, -1)) != 1 {
		t.Fatal("the cluster file has not exactly one k3s version and sha256 line")
	}
	out := k3sVersionLine.ReplaceAll(cluster, []byte("  version: "+version))
	return k3sSHA256Line.ReplaceAll(out, []byte("  sha256: {amd64: "+sha+"}"))
}

// writeCluster copies cluster to every node at about the same moment, as
// an owner's `scp` loop would.
func (sc *scenario) writeCluster(t *testing.T, cluster []byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(src, cluster, 0o644); err != nil {
		t.Fatal(err)
	}
	sc.h.parallel(t, "writing the changed cluster file", func(n *node) error {
		return n.c.CopyIn(src, "/etc/nodeagent/cluster.yaml")
	})
}

// k3sStarts is when each node's k3s last started.
func (sc *scenario) k3sStarts() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, n := range sc.h.each() {
		out[n.name] = n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic")
	}
	return out
}

// kubeletVersion is what n's Node reports, read through n's API server.
func (n *node) kubeletVersion() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obj, err := n.nodeObject(ctx, n.name)
	if err != nil {
		return "", err
	}
	if obj == nil {
		return "", fmt.Errorf("no Node %s", n.name)
	}
	return obj.Status.NodeInfo.KubeletVersion, nil
}

func (n *node) sha256Of(t *testing.T, path string) string {
	t.Helper()
	f := strings.Fields(n.mustExec(t, "sha256sum", path))
	if len(f) == 0 {
		t.Fatalf("%s: sha256sum %s printed nothing", n.name, path)
	}
	return f[0]
}

// upgrade: a new k3s.version reaches all three servers at once; they
// upgrade one at a time through the restart turn, each passing it on
// only once its Node reports the new version, and keep the binary they
// replaced.
func (sc *scenario) upgrade(t *testing.T) {
	oldSHA := sc.rs.SHA256
	sha := sc.rs.add(t, k3sUpgraded, k3sStandin(t, "--version", k3sUpgraded))
	before, agentBefore := sc.k3sStarts(), sc.agentStarted()
	start := time.Now()
	changed := withK3s(t, sc.h.cluster, k3sUpgraded, sha)
	sc.writeCluster(t, changed)
	sc.h.cluster = changed
	for _, n := range sc.h.each() {
		poll(t, n.name+" upgraded to "+k3sUpgraded+" and in step", 8*time.Minute, pollEvery, func() error {
			if n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic") == before[n.name] {
				return fmt.Errorf("k3s not restarted yet; agent: %s", n.unitProp("nodeagent.service", "StatusText"))
			}
			if v, err := n.kubeletVersion(); err != nil || v != k3sUpgraded {
				return fmt.Errorf("Node reports %q (%v)", v, err)
			}
			if st := n.unitProp("nodeagent.service", "StatusText"); st != "in step" {
				return fmt.Errorf("agent: %s", st)
			}
			return nil
		})
	}
	order := checkOneDownAtATime(t, sc.h.each())
	for _, n := range sc.h.each() {
		if got := n.sha256Of(t, "/usr/local/bin/k3s"); got != sha {
			t.Errorf("%s: k3s is %s, want the upgrade's %s", n.name, got, sha)
		}
		if got := n.sha256Of(t, "/usr/local/bin/k3s.previous"); got != oldSHA {
			t.Errorf("%s: k3s.previous is %s, want the replaced binary %s", n.name, got, oldSHA)
		}
	}
	total := time.Since(start).Round(time.Millisecond)
	sc.checkAgentUpgradedLast(t, agentBefore, sha, oldSHA)
	sc.sum.add("upgrade", "ok", fmt.Sprintf("%s → %s on all servers in %s: %s; then the agent", k3sVersion, k3sUpgraded,
		total, strings.Join(order, ", then ")))
	benchfig.Report(t, benchfig.Figure{Name: "rolling k3s upgrade of three servers (cluster file written → all on the new version)",
		Value: fmt.Sprintf("%s; %s", total, strings.Join(order, ", "))})
}

// brokenUpgrade: a k3s.version whose k3s never starts. The first server to
// take the turn puts its previous binary back within k3s.upgradeTimeout and
// records the failed version on the restart Lease; the other two never
// restart, so quorum holds, and they say the rollout stopped. Setting the
// installed version back restarts nothing.
func (sc *scenario) brokenUpgrade(t *testing.T) {
	good := sc.h.cluster
	brokenSHA := sc.rs.add(t, k3sBroken, k3sStandin(t, "--version", k3sBroken, "--fail-at-start"))
	before, agentBefore := sc.k3sStarts(), sc.agentStarted()
	start := time.Now()
	sc.writeCluster(t, withK3s(t, good, k3sBroken, brokenSHA))

	var failed *node
	poll(t, "a server recorded the failed "+k3sBroken+" rollout", 8*time.Minute, pollEvery, func() error {
		for _, n := range sc.h.each() {
			st, err := n.status()
			if err == nil && st.K3sRollout != nil && st.K3sRollout.Failed != nil && st.K3sRollout.Failed.Version == k3sBroken {
				failed = sc.h.nodes[st.K3sRollout.Failed.Node]
				if failed == nil {
					return fmt.Errorf("the failed rollout names %q, no node of the homelab", st.K3sRollout.Failed.Node)
				}
				return nil
			}
		}
		return fmt.Errorf("not yet; agents: %s", sc.statusTexts())
	})
	poll(t, failed.name+" back on "+k3sUpgraded, 3*time.Minute, pollEvery, func() error {
		if got := failed.unitProp("k3s.service", "ActiveState"); got != "active" {
			return fmt.Errorf("k3s.service %s", got)
		}
		if v, err := failed.kubeletVersion(); err != nil || v != k3sUpgraded {
			return fmt.Errorf("Node reports %q (%v)", v, err)
		}
		return nil
	})
	if got, want := failed.sha256Of(t, "/usr/local/bin/k3s"), sc.rs.sums[k3sUpgraded]; got != want {
		t.Errorf("%s: k3s after the rollback is %s, want the previous %s", failed.name, got, want)
	}
	for _, n := range sc.h.each() {
		poll(t, n.name+" says the rollout stopped, quorum held", 3*time.Minute, pollEvery, func() error {
			if st := n.unitProp("nodeagent.service", "StatusText"); !strings.Contains(st, "k3s rollout stopped: k3s "+k3sBroken+" did not come back on "+failed.name) {
				return fmt.Errorf("agent: %s", st)
			}
			st, err := n.status()
			if err != nil {
				return err
			}
			return healthyCluster(st, 3)
		})
		if n != failed && n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic") != before[n.name] {
			t.Errorf("%s restarted k3s although the rollout had stopped", n.name)
		}
	}
	stopped := "rollout   STOPPED: k3s " + k3sBroken + " did not come back on " + failed.name
	if text := failed.mustExec(t, "nodeagent", "status"); !strings.Contains(text, stopped) {
		t.Errorf("%s: status does not say the rollout stopped:\n%s", failed.name, text)
	}
	for _, n := range sc.h.each() {
		if n != failed {
			if text := n.mustExec(t, "nodeagent", "status", "--cluster"); !strings.Contains(text, stopped) {
				t.Errorf("%s: status --cluster does not say the rollout stopped:\n%s", n.name, text)
			}
			break
		}
	}
	rolledBack := time.Since(start).Round(time.Millisecond)

	// Back to the installed version: nothing restarts, all in step.
	after := sc.k3sStarts()
	sc.writeCluster(t, good)
	for _, n := range sc.h.each() {
		poll(t, n.name+" in step on "+k3sUpgraded+" again", 3*time.Minute, pollEvery, func() error {
			if st := n.unitProp("nodeagent.service", "StatusText"); st != "in step" {
				return fmt.Errorf("agent: %s", st)
			}
			return nil
		})
		if n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic") != after[n.name] {
			t.Errorf("%s restarted k3s when the cluster file went back to the installed version", n.name)
		}
	}
	if a := sc.h.agent(); a != nil {
		if sc.agentStarted() != agentBefore {
			t.Errorf("%s restarted k3s-agent although the servers' rollout had stopped", agentName)
		}
		if got, want := a.sha256Of(t, "/usr/local/bin/k3s"), sc.rs.sums[k3sUpgraded]; got != want {
			t.Errorf("%s: k3s is %s after the stopped rollout, want %s", agentName, got, want)
		}
	}
	sc.sum.add("broken upgrade", "ok", fmt.Sprintf("%s rolled back to %s within %s; the other servers and the agent never restarted", failed.name, k3sUpgraded, rolledBack))
}

// statusTexts is each agent's STATUS, for a wait's error.
func (sc *scenario) statusTexts() string {
	var parts []string
	for _, n := range sc.h.each() {
		parts = append(parts, n.name+": "+n.unitProp("nodeagent.service", "StatusText"))
	}
	return strings.Join(parts, "; ")
}
