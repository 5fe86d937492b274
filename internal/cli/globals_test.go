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

// The service takes no --node: /etc/nodeagent/node names the node of a Pi
// whose hostname and addresses do not tell; --node wins over it.
func TestThisNodeReadsTheNodeFile(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	f.Source = "/etc/nodeagent/cluster.yaml"
	root := t.TempDir()
	g := &Globals{RootDir: root, Log: zap.NewNop()}
	// (Unless this machine happens to have a homelab address.)
	if _, err := g.ThisNode(f); err != nil && (!errors.Is(err, identity.ErrNotANode) || !strings.Contains(err.Error(), "write this machine's node name to "+identity.NodeFile)) {
		t.Fatalf("no name anywhere: err = %v, want ErrNotANode naming %s", err, identity.NodeFile)
	}
	file := filepath.Join(root, identity.NodeFile)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	for content, want := range map[string]string{
		"pi5\n":                    "pi5",
		"# this Pi\n  pi4-2  \n\n": "pi4-2",
		"pi9\n":                    identity.NodeFile + `: node "pi9": no such node`,
		"pi5\npi4-1\n":             "2 lines with names, want one",
		"# only a comment\n":       "no node name in it",
		"pi 5\n":                   `"pi 5" is not a node name`,
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		n, err := g.ThisNode(f)
		got := n.Name
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("node file %q: got %q, want %q", content, got, want)
		}
		if err != nil && !errors.Is(err, identity.ErrNotANode) {
			t.Errorf("node file %q: %v is no ErrNotANode: the daemon would exit instead of waiting for the fix", content, err)
		}
	}
	g.NodeName = "pi4-1"
	if n, err := g.ThisNode(f); err != nil || n.Name != "pi4-1" {
		t.Errorf("--node pi4-1 with a node file: %v, %v; want pi4-1", n.Name, err)
	}
}
