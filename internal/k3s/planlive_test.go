package k3s

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/release"
)

// The live plan of an installed node names what differs, and nothing else.
func TestPlanLiveShowsWhatDiffersHere(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	// The fake systemd keeps units in memory; put the unit where systemd would.
	mustWrite(t, fx.root.Path("/etc/systemd/system/k3s.service"), fx.svc.Units["k3s.service"], 0o644)
	text := func() string {
		t.Helper()
		st, err := fx.mgr.PlanLive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := ReadTokens(fx.root, fx.cluster, fx.mgr.node)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), tokens.Server) || strings.Contains(string(data), tokens.Agent) {
			t.Fatal("the live plan shows a token")
		}
		return string(data)
	}
	actions := func() int {
		st, _ := fx.mgr.PlanLive(ctx)
		return len(st.Actions)
	}

	got := text()
	for _, want := range []string{"k3s binary up to date", ConfigPath + " up to date", "unit k3s.service up to date", "nothing to restart"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan of an installed node lacks %q:\n%s", want, got)
		}
	}
	if n := actions(); n != 0 {
		t.Errorf("plan of an installed node has %d actions, want none", n)
	}

	fx.cluster.K3s.Disable = append(fx.cluster.K3s.Disable, "metrics-server")
	got = text()
	if !strings.Contains(got, ConfigPath+" differs in disable") || !strings.Contains(got, "systemctl restart k3s.service") {
		t.Errorf("plan after a change of k3s.disable:\n%s", got)
	}
	if !strings.Contains(got, "token: \\u003credacted\\u003e") {
		t.Errorf("the rewritten config does not show the token redacted:\n%s", got)
	}

	if err := os.WriteFile(fx.root.Path(release.BinaryPath), []byte("not k3s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got = text(); !strings.Contains(got, "replace "+release.BinaryPath) {
		t.Errorf("plan after the binary changed by hand:\n%s", got)
	}
}
