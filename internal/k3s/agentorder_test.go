package k3s

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

func TestDecideAgentUpgrade(t *testing.T) {
	servers := []string{"pi4-1", "pi4-2", "pi5"}
	tests := []struct {
		name     string
		reported map[string]string
		want     AgentUpgrade
	}{
		{"every server on the new version", map[string]string{"pi4-1": versionB, "pi4-2": versionB, "pi5": versionB}, AgentUpgrade{Go: true}},
		{"one server still on the old", map[string]string{"pi4-1": versionB, "pi4-2": "v1.33.5+k3s1", "pi5": versionB},
			AgentUpgrade{Waiting: "k3s " + versionB + " staged; waiting for every server to run it before this agent does: pi4-2 (v1.33.5+k3s1)"}},
		{"a rollout rolled back on one server and stopped", map[string]string{"pi4-1": versionB, "pi4-2": "v1.33.5+k3s1", "pi5": "v1.33.5+k3s1"},
			AgentUpgrade{Waiting: "k3s " + versionB + " staged; waiting for every server to run it before this agent does: pi4-2 (v1.33.5+k3s1), pi5 (v1.33.5+k3s1)"}},
		{"a server without a Node", map[string]string{"pi4-1": versionB, "pi4-2": versionB},
			AgentUpgrade{Waiting: "k3s " + versionB + " staged; waiting for every server to run it before this agent does: pi5 (no Node)"}},
		{"a server on a newer version than the cluster file", map[string]string{"pi4-1": versionB, "pi4-2": versionB, "pi5": "v1.34.0+k3s1"},
			AgentUpgrade{Waiting: "k3s " + versionB + " staged; waiting for every server to run it before this agent does: pi5 (v1.34.0+k3s1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DecideAgentUpgrade(versionB, servers, tt.reported)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeServers holds the versions the servers' Nodes report.
type fakeServers struct {
	versions map[string]string
	reads    int
}

func (f *fakeServers) Versions(_ context.Context, names []string) (map[string]string, error) {
	f.reads++
	out := map[string]string{}
	for _, n := range names {
		if v, ok := f.versions[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

// expiredClock makes a PollUntil check once: its deadline has passed.
type expiredClock struct{ host.RealClock }

func (expiredClock) NewTimer(time.Duration) host.Timer {
	c := make(chan time.Time)
	close(c)
	return expiredTimer{c}
}

type expiredTimer struct{ c chan time.Time }

func (t expiredTimer) C() <-chan time.Time    { return t.c }
func (expiredTimer) Stop() bool               { return false }
func (expiredTimer) Reset(time.Duration) bool { return false }

// An agent stages a new k3s but keeps running the old one until every
// server reports the new version; then it upgrades.
func TestAgentUpgradesAfterTheServers(t *testing.T) {
	fx := newEnsureFixture(t, 64<<10)
	fx.mgr.node.Role = config.RoleAgent
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatalf("first start of the agent: %v", err)
	}
	old := fx.cluster.K3s.Version
	servers := &fakeServers{versions: map[string]string{"pi4-1": old, "pi4-2": old, "pi5": old}}
	fx.mgr.Servers, fx.mgr.clock = servers, expiredClock{}
	fx.upgrade(t)
	restarts := fx.svc.Restarts["k3s-agent.service"]

	res, err := fx.mgr.Ensure(ctx, fx.join())
	if err != nil || res.Changed() || res.Restarted || !strings.Contains(res.Held, "waiting for every server to run it") {
		t.Fatalf("Ensure with the servers on %s: %+v, %v; want the upgrade held", old, res, err)
	}
	if got, _, _ := fx.mgr.installer.InstalledVersion(); got != old || fx.svc.Restarts["k3s-agent.service"] != restarts {
		t.Errorf("held upgrade installed %s, restarted %d times", got, fx.svc.Restarts["k3s-agent.service"]-restarts)
	}

	servers.versions = map[string]string{"pi4-1": versionB, "pi4-2": versionB, "pi5": versionB}
	res, err = fx.mgr.Ensure(ctx, fx.join())
	if err != nil || !res.BinaryChanged || !res.Restarted || res.Held != "" {
		t.Fatalf("Ensure with every server on %s: %+v, %v; want the upgrade", versionB, res, err)
	}
	if got, _, _ := fx.mgr.installer.InstalledVersion(); got != versionB {
		t.Errorf("installed %s, want %s", got, versionB)
	}
}

// A server never waits for the others' versions (its order is the
// restart turn), and an agent's first install waits for nothing.
func TestOnlyAnAgentsUpgradeWaitsForTheServers(t *testing.T) {
	fx := newEnsureFixture(t, 64<<10)
	servers := &fakeServers{}
	fx.mgr.Servers, fx.mgr.clock = servers, expiredClock{}
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	fx.upgrade(t)
	if res, err := fx.mgr.Ensure(ctx, fx.join()); err != nil || !res.BinaryChanged || res.Held != "" {
		t.Fatalf("upgrade of a single server: %+v, %v", res, err)
	}
	if servers.reads != 0 {
		t.Errorf("a server read the servers' versions %d times", servers.reads)
	}
}

// The live plan of an agent with a new version to install says it waits
// for the servers.
func TestAgentPlanSaysServersFirst(t *testing.T) {
	fx := newEnsureFixture(t, 64<<10)
	fx.mgr.node.Role = config.RoleAgent
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err != nil {
		t.Fatal(err)
	}
	fx.upgrade(t)
	st, err := fx.mgr.PlanLive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(st.Notes, "\n"), "servers first, then agents") {
		t.Errorf("plan notes %q lack the upgrade order", st.Notes)
	}
}
