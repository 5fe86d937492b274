package k3s

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// TestEnsureAgentJoinsWithTheAgentToken is issue #22 item 12 on a real file
// tree: an agent Pi holds only /etc/nodeagent/agent-token (no server token
// file, which would unlock the cluster's CA keys), and its k3s config.yaml
// gets that token and nothing else secret.
func TestEnsureAgentJoinsWithTheAgentToken(t *testing.T) {
	const agentSecret = "agent-only-secret-4f1c"
	root := host.NewRoot(t.TempDir())
	bin := payload(9, 4096)
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.K3s.ReleaseBase = "/srv/k3s"
	for i := range c.Nodes {
		if c.Nodes[i].Name == "pi4-2" {
			c.Nodes[i].Role = config.RoleAgent
		}
	}
	dir := root.Path("/srv/k3s/" + c.K3s.Version)
	mustWrite(t, filepath.Join(dir, "k3s-arm64"), bin, 0o644)
	mustWrite(t, filepath.Join(dir, "sha256sum-arm64.txt"), []byte(sha(bin)+"  k3s-arm64\n"), 0o644)
	mustWrite(t, root.Path("/etc/nodeagent/agent-token"), []byte(agentSecret+"\n"), 0o600)
	n, _ := c.Node("pi4-2")
	log := zaptest.NewLogger(t)
	m := NewManager(root, log, c, n, release.NewInstaller(root, log, host.RealClock{}, testOptions()), NewFakeServiceManager(), nil)

	if _, err := m.Ensure(context.Background(), orderJoin(c, n)); err != nil {
		t.Fatalf("Ensure on an agent with only the agent token: %v", err)
	}
	data, err := os.ReadFile(root.Path(ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\ntoken: "+agentSecret+"\n") || strings.Contains(string(data), "agent-token") {
		t.Errorf("agent config.yaml: want `token: <agent token>` and no agent-token key, got:\n%s", data)
	}
	if _, err := os.Stat(root.Path("/etc/nodeagent/token")); err == nil {
		t.Error("a server token file appeared on the agent")
	}
}
