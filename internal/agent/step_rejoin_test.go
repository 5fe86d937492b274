package agent

import (
	"context"
	"os"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// fakeServerWork never finds a restore without this server.
func (f *fakeServerWork) RejoinRestored(context.Context, func(string)) error { return nil }

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
