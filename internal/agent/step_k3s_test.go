package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// The cluster CA is recorded only once the server is an etcd member
// (member/wal), and then pins its later joins.
func TestK3sStepRecordsClusterCA(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.Node("pi4-1")
	root := host.NewRoot(t.TempDir())
	a := &Agent{Deps: Deps{File: f, Node: n, Root: root}, log: zaptest.NewLogger(t)}
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	write := func(p string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(p), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(k3s.ServerCAPath, ca)
	write("/var/lib/rancher/k3s/server/db/etcd/name", []byte("pi4-1-0a1b2c3d"))
	if err := (k3sStep{a}).recordCA(State{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := LoadState(root); st.ClusterCA != "" {
		t.Fatalf("recorded CA %q before the join finished (no member/wal)", st.ClusterCA)
	}
	if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := (k3sStep{a}).recordCA(State{Joined: true}); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(root)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClusterCA != k3s.CAHash(ca) || !st.Joined {
		t.Errorf("state %+v, want the CA %s recorded and the rest kept", st, k3s.CAHash(ca))
	}
}

// fakeServerWork keeps the etcd members named after nodes; its
// ReplaceStaleMember removes this node's, as the real one does when
// quorum.DecideStaleMember allows it.
type fakeServerWork struct {
	members map[string]bool // etcd member names
	node    string
	calls   []string // "via caHash"
}

func (f *fakeServerWork) WaitQuorum(context.Context, func(string)) error             { return nil }
func (f *fakeServerWork) ApplyManifests(context.Context, func(string)) error         { return nil }
func (f *fakeServerWork) ClaimRestart(context.Context, string, func(string)) error   { return nil }
func (f *fakeServerWork) ReleaseRestart(context.Context, string, func(string)) error { return nil }
func (f *fakeServerWork) FailRestart(context.Context, string, string, func(string)) error {
	return nil
}
func (f *fakeServerWork) Close() error { return nil }

func (f *fakeServerWork) ReplaceStaleMember(_ context.Context, via, caHash string, status func(string)) error {
	f.calls = append(f.calls, via+" "+caHash)
	if name := f.node + "-1a2b3c4d"; f.members[name] {
		delete(f.members, name)
		status("removed stale etcd member " + name)
	}
	return nil
}

// A server joining through another removes its stale member before k3s
// starts; a kept join, a cluster-init, an etcd member and an agent do not.
func TestK3sStepReplacesTheStaleMemberOfAFreshJoiner(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := f.Node("pi4-2")
	agentNode, _ := f.Node("pi5") // the default homelab has servers only
	agentNode.Role = config.RoleAgent
	through := k3s.JoinDecision{Join: k3s.Join{Server: "https://10.0.0.11:6443"}, Via: "pi4-1", CAHash: "0a1b"}
	for _, tc := range []struct {
		name      string
		node      config.Node
		decision  k3s.JoinDecision
		member    bool // this node is an etcd member already
		wantCalls []string
	}{
		{name: "fresh server joining through pi4-1", node: server, decision: through,
			wantCalls: []string{"https://10.0.0.11:6443 0a1b"}},
		{name: "kept join", node: server, decision: k3s.JoinDecision{Join: through.Join, Kept: true}},
		{name: "cluster-init", node: server, decision: k3s.JoinDecision{Join: k3s.Join{ClusterInit: true}}},
		{name: "already an etcd member", node: server, decision: through, member: true},
		{name: "agent", node: agentNode, decision: through},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := host.NewRoot(t.TempDir())
			if tc.member {
				if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			sw := &fakeServerWork{node: tc.node.Name, members: map[string]bool{tc.node.Name + "-1a2b3c4d": true}}
			rep := &recordingReporter{}
			a := &Agent{Deps: Deps{File: f, Node: tc.node, Root: root, Reporter: rep}, log: zaptest.NewLogger(t), server: sw}
			if err := (k3sStep{a}).replaceStaleMember(context.Background(), tc.decision); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCalls, sw.calls); diff != "" {
				t.Errorf("ReplaceStaleMember calls (-want +got):\n%s", diff)
			}
			if gone := !sw.members[tc.node.Name+"-1a2b3c4d"]; gone != (len(tc.wantCalls) > 0) {
				t.Errorf("stale member removed = %v, want %v", gone, len(tc.wantCalls) > 0)
			}
			if len(tc.wantCalls) > 0 && !slices.Contains(rep.events, "status removed stale etcd member "+tc.node.Name+"-1a2b3c4d") {
				t.Errorf("reported %q, want the removal", rep.events)
			}
		})
	}
	// Without server work wired (an agent build), nothing is called.
	a := &Agent{Deps: Deps{File: f, Node: server, Root: host.NewRoot(t.TempDir()), Reporter: &recordingReporter{}}, log: zaptest.NewLogger(t)}
	if err := (k3sStep{a}).replaceStaleMember(context.Background(), through); err != nil {
		t.Errorf("without server work: %v", err)
	}
}
