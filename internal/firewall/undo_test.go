package firewall

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// Undo after a join puts ufw back as it was, in what nodeagent changed, with
// the owner's rules kept and SSH reachable throughout; what the host lets
// through afterwards is what it let through before.
func TestUndoRealUFW(t *testing.T) {
	requireIntegration(t)
	for _, tc := range []struct {
		name     string
		defaults map[string]string
		// owner runs before nodeagent: the owner's own ufw setup.
		owner [][]string
	}{
		{"ufw disabled before", nil, nil},
		{"ufw enabled by the owner, routing allowed", map[string]string{"DEFAULT_FORWARD_POLICY": "ACCEPT"}, [][]string{
			{"allow", "proto", "tcp", "from", labClient, "to", "any", "port", "22"},
			{"--force", "enable"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := newLab(t, tc.defaults)
			l.serveAll(t)
			c := labCluster(t)
			// A LAN that is not the example's: only the client may SSH in.
			c.Firewall.SSHSources = []string{labClient + "/32"}
			node, _ := c.Node("node")
			fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))
			mustRun(t, l.ufw, "ufw", "allow", "proto", "tcp", "from", labPeer, "to", "any", "port", "9100")
			for _, args := range tc.owner {
				mustRun(t, l.ufw, "ufw", args...)
			}
			before, err := fw.Observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			reachBefore := reachability(l.checks())

			if _, err := fw.Apply(ctx, c, node); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if _, err := os.Stat(l.root.Path(BeforePath)); err != nil {
				t.Fatalf("no record of ufw before nodeagent: %v", err)
			}
			if diff := cmp.Diff(reachBefore, reachability(l.checks())); diff == "" {
				t.Fatal("nodeagent's policy let through what the host let through before: the test shows nothing")
			}

			stop := make(chan struct{})
			probe := runSSHProbe(l, stop)
			res, err := fw.Undo(ctx)
			close(stop)
			p := <-probe
			if err != nil {
				t.Fatalf("undo: %v", err)
			}
			t.Logf("undo: %d ufw changes, left %q, %d SSH probes", len(res.Applied), res.Left, p.attempts)
			if p.failures > 0 {
				t.Errorf("SSH during the undo: %d of %d attempts failed (first: %v)", p.failures, p.attempts, p.firstErr)
			}
			after, err := fw.Observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("ufw after the undo against before nodeagent (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(reachBefore, reachability(l.checks())); diff != "" {
				t.Errorf("reachability after the undo against before nodeagent (-before +after):\n%s", diff)
			}
			if _, err := os.Stat(l.root.Path(BeforePath)); !os.IsNotExist(err) {
				t.Errorf("the record is still there after the undo: %v", err)
			}
		})
	}
}

// Without a record (a node provisioned before records existed) an enabled
// ufw keeps nodeagent's rules, and the result says why.
func TestUndoWithoutARecordLeavesAnEnabledUFW(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	l := newLab(t, nil)
	c := labCluster(t)
	node, _ := c.Node("node")
	fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))
	if _, err := fw.Apply(ctx, c, node); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.root.Path(BeforePath)); err != nil {
		t.Fatal(err)
	}
	applied, err := fw.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fw.Undo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := fw.Observe(ctx)
	if len(res.Applied) != 0 || !cmp.Equal(applied, after) {
		t.Errorf("undo without a record changed ufw: %v", res.Applied)
	}
	if len(res.Left) != 1 || !strings.Contains(res.Left[0], "no record of its state before nodeagent") {
		t.Errorf("left = %q, want it to say why nodeagent's rules stay", res.Left)
	}
}
