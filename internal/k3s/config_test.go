package k3s

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
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
	for _, tok := range []Tokens{{Agent: "a"}, {Server: "s"}, {Server: "s", Agent: "K10::server:s"}} {
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
