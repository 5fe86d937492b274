package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// fakeServerWork never finds a restore without this server.
func (f *fakeServerWork) RejoinRestored(context.Context, func(string)) error { return nil }

// fakeServerWork has no left agents to remove.
func (f *fakeServerWork) RemoveLeftAgent(context.Context, string, func(string)) error { return nil }

// rejoinServerWork counts the restore checks.
type rejoinServerWork struct {
	fakeServerWork
	checks int
}

func (w *rejoinServerWork) RejoinRestored(context.Context, func(string)) error {
	w.checks++
	return nil
}

// Only a server that is an etcd member of a multi-server cluster checks
// for a restore elsewhere: there is nothing to move on a fresh server, an
// agent, or a single server.
func TestK3sStepChecksForARestoreOnlyOnAnEtcdMember(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := f.Node("pi4-2")
	agentNode := server
	agentNode.Role = config.RoleAgent
	for _, tc := range []struct {
		name   string
		node   config.Node
		member bool
		want   int
	}{
		{"etcd member", server, true, 1},
		{"fresh server", server, false, 0},
		{"agent", agentNode, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := host.NewRoot(t.TempDir())
			if tc.member {
				if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			sw := &rejoinServerWork{}
			a := &Agent{Deps: Deps{File: f, Node: tc.node, Root: root, Reporter: &recordingReporter{}}, log: zaptest.NewLogger(t), server: sw}
			if err := (k3sStep{a}).rejoinRestored(context.Background()); err != nil {
				t.Fatal(err)
			}
			if sw.checks != tc.want {
				t.Errorf("restore checks = %d, want %d", sw.checks, tc.want)
			}
		})
	}
}

// A server interrupted between moving its data aside and k3s's join joins
// through the restored server it chose, whatever a new decision says; once
// it is an etcd member again, the record of the pending rejoin goes.
func TestK3sStepFollowsAPendingRejoin(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := f.Node("pi4-2")
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(root.Path(restore.RejoinPendingPath)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(restore.RejoinPendingPath), []byte("https://10.0.0.11:6443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sw := &rejoinServerWork{}
	a := &Agent{Deps: Deps{File: f, Node: server, Root: root, Reporter: &recordingReporter{}}, log: zaptest.NewLogger(t), server: sw}
	stale := k3s.JoinDecision{Join: k3s.Join{Server: "https://10.0.0.13:6443"}, Via: "pi5", CAHash: "0a1b"}
	d := (k3sStep{a}).followRejoin(stale, "0a1b")
	if d.Server != "https://10.0.0.11:6443" || d.CAHash != "0a1b" {
		t.Errorf("pending rejoin: decision %+v, want the restored server with the known CA", d)
	}
	if d := (k3sStep{a}).followRejoin(stale, ""); d.Server != stale.Server {
		t.Errorf("without a known CA: decision %+v, want the decision unchanged", d)
	}

	if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	if d := (k3sStep{a}).followRejoin(stale, "0a1b"); d.Server != stale.Server {
		t.Errorf("an etcd member again: decision %+v, want the decision unchanged", d)
	}
	if err := (k3sStep{a}).rejoinRestored(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root.Path(restore.RejoinPendingPath)); !os.IsNotExist(err) {
		t.Errorf("the pending rejoin record after the join: %v, want it gone", err)
	}
}

type failingRejoin struct{ fakeServerWork }

func (failingRejoin) RejoinRestored(context.Context, func(string)) error {
	return errors.New("etcd client certificate missing")
}

// A failed check is logged and the k3s phase goes on.
func TestK3sStepGoesOnAfterAFailedRestoreCheck(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := f.Node("pi4-2")
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	a := &Agent{Deps: Deps{File: f, Node: server, Root: root, Reporter: &recordingReporter{}}, log: zaptest.NewLogger(t), server: &failingRejoin{}}
	if err := (k3sStep{a}).rejoinRestored(context.Background()); err != nil {
		t.Errorf("a failed restore check stopped the k3s phase: %v", err)
	}
}
