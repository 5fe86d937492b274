package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/identity"
)

// A server-work child must read the same cluster file as the daemon: the one
// under --root when there, else the built-in one (no --config).
func TestChildArgsNameTheDaemonsClusterFile(t *testing.T) {
	root := t.TempDir()
	g := &Globals{RootDir: root, LogLevel: "debug"}
	n := config.Node{Name: "pi4-1"}
	args, err := g.ChildArgs(n)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(args, " "), "--node pi4-1 --root "+root+" --log-level debug"; got != want {
		t.Errorf("without a cluster file: %q, want %q", got, want)
	}
	path := filepath.Join(root, config.DefaultPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("kind: Cluster\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if args, err = g.ChildArgs(n); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args, " "); !strings.HasSuffix(got, " --config "+path) {
		t.Errorf("with %s: %q, want --config naming it", path, got)
	}
	g.ConfigPath = "relative.yaml"
	args, _ = g.ChildArgs(n)
	if last := args[len(args)-1]; !filepath.IsAbs(last) || filepath.Base(last) != "relative.yaml" {
		t.Errorf("--config relative.yaml reached the child as %q, want an absolute path", last)
	}
}

// Commands that act on this node never take a node of the built-in homelab,
// not even by --node: it is an example, not this machine's configuration.
func TestThisNodeRefusesTheBuiltinHomelab(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	g := &Globals{NodeName: "pi4-1", Log: zap.NewNop()}
	if n, err := g.ThisNode(f); !errors.Is(err, identity.ErrNoClusterFile) {
		t.Errorf("ThisNode(built-in) = %v, %v; want ErrNoClusterFile", n.Name, err)
	}
	f.Source = "/etc/nodeagent/cluster.yaml"
	if n, err := g.ThisNode(f); err != nil || n.Name != "pi4-1" {
		t.Errorf("ThisNode(a file) --node pi4-1 = %v, %v; want pi4-1", n.Name, err)
	}
}
