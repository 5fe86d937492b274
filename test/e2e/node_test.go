package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// node is one Pi: a booted container in its own network namespace.
type node struct {
	name  string // the node's name in the cluster file
	addr  string
	netns string // path of the node's network namespace
	c     *nspawn.Container
}

// execTimeout bounds every command run inside a container.
const execTimeout = 60 * time.Second

func (n *node) exec(args ...string) (string, error) { return n.execFor(execTimeout, args...) }

// execFor runs args inside the container for at most timeout: for a
// command that waits itself (remove-node).
func (n *node) execFor(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.c.Exec(ctx, args...)
}

func (n *node) mustExec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.exec(args...)
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	return out
}

// writeFile puts data at path inside the container with mode.
func (n *node) writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	src := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(src, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := n.c.CopyIn(src, path); err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
}

// status runs `nodeagent status -o json` inside the node: the same report
// an operator reads, gathered by the agent's own code.
// statusJSON is what `nodeagent status -o json` prints on a server.
type statusJSON struct {
	agent.StatusReport
	Etcd       *serverwork.EtcdStatus    `json:"etcd,omitempty"`
	K3sRollout *serverwork.RolloutStatus `json:"k3sRollout,omitempty"`
	Secrets    []manifests.SecretState   `json:"secrets,omitempty"`
}

func (n *node) status() (statusJSON, error) {
	var r statusJSON
	out, err := n.exec("nodeagent", "status", "-o", "json")
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("%s: decoding status: %w: %s", n.name, err, out)
	}
	return r, nil
}

// unitProp reads one property of a unit inside the node.
func (n *node) unitProp(unit, prop string) string {
	out, _ := n.exec("systemctl", "show", "-p", prop, "--value", unit)
	return strings.TrimSpace(out)
}

// monotonicProp reads a *Monotonic timestamp property (microseconds).
func (n *node) monotonicProp(unit, prop string) time.Duration {
	us, err := strconv.ParseInt(n.unitProp(unit, prop), 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}

// saveJournal writes the node's whole journal of this boot to path.
func (n *node) saveJournal(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	out, err := n.c.Exec(ctx, "journalctl", "-b", "--no-pager", "-o", "short-precise")
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// poll calls check every interval until it returns nil or timeout passes;
// the last error is the failure.
func poll(t testing.TB, what string, timeout, interval time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(interval) // polling interval, bounded by the deadline above
	}
}
