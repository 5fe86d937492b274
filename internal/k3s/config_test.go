package k3s

import (
	"os"
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
			got, err := RenderConfig(tc.cluster, n, "test-token", orderJoin(tc.cluster, n))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "config/"+tc.node+".yaml", got)
			again, _ := RenderConfig(tc.cluster, n, "test-token", orderJoin(tc.cluster, n))
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("rendering is not deterministic (-first +second):\n%s", diff)
			}
		})
	}
}

func TestRenderConfigErrors(t *testing.T) {
	c := defaultCluster(t)
	n, _ := c.Node("pi4-1")
	if _, err := RenderConfig(c, n, "", orderJoin(c, n)); err == nil {
		t.Error("empty token: want error")
	}
	noServers := &config.Cluster{Nodes: []config.Node{{Name: "a", Role: config.RoleAgent}}}
	if _, err := RenderConfig(noServers, noServers.Nodes[0], "t", orderJoin(noServers, noServers.Nodes[0])); err == nil {
		t.Error("no server: want error")
	}
}

func TestWriteConfigOnlyWhenChanged(t *testing.T) {
	root := newRoot(t)
	c := defaultCluster(t)
	n, _ := c.Node("pi4-2")
	data, err := RenderConfig(c, n, "tok", orderJoin(c, n))
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
