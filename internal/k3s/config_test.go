package k3s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/test/golden"
)

func defaultCluster(t *testing.T) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatalf("config.Default: %v", err)
	}
	return &f.Cluster
}

func loadCluster(t *testing.T, path string) *config.Cluster {
	t.Helper()
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return &f.Cluster
}

func TestRenderConfigGolden(t *testing.T) {
	homelab := defaultCluster(t)
	small := loadCluster(t, "testdata/agent-cluster.yaml")
	tests := []struct {
		cluster *config.Cluster
		node    string
	}{
		{homelab, "pi4-1"}, {homelab, "pi4-2"}, {homelab, "pi5"}, {small, "srv"}, {small, "worker"},
	}
	for _, tc := range tests {
		t.Run(tc.node, func(t *testing.T) {
			n, ok := tc.cluster.Node(tc.node)
			if !ok {
				t.Fatalf("node %s not in cluster", tc.node)
			}
			got, err := RenderConfig(tc.cluster, n, testTokens, orderJoin(tc.cluster, n))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "config/"+tc.node+".yaml", got)
			again, _ := RenderConfig(tc.cluster, n, testTokens, orderJoin(tc.cluster, n))
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("rendering is not deterministic (-first +second):\n%s", diff)
			}
		})
	}
}

var testTokens = Tokens{Server: "test-server-token", Agent: "test-agent-token"}

// TestRenderConfigTokens: an agent's config holds the agent token and never
// the server token, which would let the agent fetch the cluster's CA keys
// (issue #22 item 12); a server's holds the server token and, as
// agent-token, the agent token's secret.
func TestRenderConfigTokens(t *testing.T) {
	c := loadCluster(t, "testdata/agent-cluster.yaml")
	pinnedAgent := "K10" + strings.Repeat("ab", 32) + "::node:agent-secret"
	for _, tc := range []struct {
		node, agentToken string
		want, not        []string
	}{
		{"worker", "agent-secret", []string{"token: agent-secret\n"}, []string{"test-server-token", "agent-token:"}},
		{"worker", pinnedAgent, []string{"token: " + pinnedAgent + "\n"}, []string{"test-server-token"}},
		{"srv", "agent-secret", []string{"token: test-server-token\n", "agent-token: agent-secret\n"}, nil},
		{"srv", pinnedAgent, []string{"agent-token: agent-secret\n"}, []string{"K10" + strings.Repeat("ab", 32) + "::node"}},
	} {
		n, _ := c.Node(tc.node)
		got, err := RenderConfig(c, n, Tokens{Server: "test-server-token", Agent: tc.agentToken}, orderJoin(c, n))
		if err != nil {
			t.Fatalf("%s: %v", tc.node, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s with agent token %.12s…: config lacks %q:\n%s", tc.node, tc.agentToken, w, got)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(string(got), w) {
				t.Errorf("%s with agent token %.12s…: config holds %q:\n%s", tc.node, tc.agentToken, w, got)
			}
		}
	}
}

func TestRenderConfigErrors(t *testing.T) {
	c := defaultCluster(t)
	n, _ := c.Node("pi4-1")
	// (A server without an agent token renders none: ReadTokens decides
	// whether one is needed; TestReadTokens.)
	for _, tok := range []Tokens{{Agent: "a"}, {Server: "s", Agent: "K10::server:s"}} {
		if _, err := RenderConfig(c, n, tok, orderJoin(c, n)); err == nil {
			t.Errorf("server with tokens %+v: want error", tok)
		} else if strings.Contains(err.Error(), ":s") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
	noServers := &config.Cluster{Nodes: []config.Node{{Name: "a", Role: config.RoleAgent}}}
	if _, err := RenderConfig(noServers, noServers.Nodes[0], testTokens, orderJoin(noServers, noServers.Nodes[0])); err == nil {
		t.Error("no server: want error")
	}
}

func TestWriteConfigOnlyWhenChanged(t *testing.T) {
	root := newRoot(t)
	c := defaultCluster(t)
	n, _ := c.Node("pi4-2")
	data, err := RenderConfig(c, n, testTokens, orderJoin(c, n))
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, d := range [][]byte{data, data, append(data, '#')} {
		changed, err := WriteConfig(root, d)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, changed)
	}
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	st, err := os.Stat(root.Path(ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %o, want 0600", st.Mode().Perm())
	}
}

// The agent token is needed on a server only once the cluster file lists an
// agent node (or the file is there): a cluster of servers needs none.
func TestReadTokens(t *testing.T) {
	c := defaultCluster(t)
	server, _ := c.Node("pi4-1")
	root := host.NewRoot(t.TempDir())
	writeToken := func(path, tok string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(root.Path(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(path), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken(c.K3s.TokenFile, "server-secret")
	got, err := ReadTokens(root, c, server)
	if err != nil || got != (Tokens{Server: "server-secret"}) {
		t.Errorf("servers only, no agent token file: %+v, %v; want the server token alone", got, err)
	}
	cfg, err := RenderConfig(c, server, got, orderJoin(c, server))
	if err != nil || strings.Contains(string(cfg), "agent-token") {
		t.Errorf("servers only: config %s, %v; want no agent-token", cfg, err)
	}
	withAgent := *c
	withAgent.Nodes = append(append([]config.Node(nil), c.Nodes...), config.Node{Name: "pi3", Address: "10.0.0.14", Role: config.RoleAgent, Arch: "arm64"})
	if _, err := ReadTokens(root, &withAgent, server); err == nil || !strings.Contains(err.Error(), "token generate --agent") {
		t.Errorf("a server of a cluster with an agent, no agent token: err = %v, want the missing file named", err)
	}
	writeToken(c.K3s.AgentTokenFile, "agent-secret")
	if got, err := ReadTokens(root, c, server); err != nil || got != (Tokens{Server: "server-secret", Agent: "agent-secret"}) {
		t.Errorf("servers only, agent token present: %+v, %v; want both", got, err)
	}
}
