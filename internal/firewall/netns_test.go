package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/host"
)

// requireIntegration skips (or, in CI, fails) unless the test can create
// network namespaces and run the real ufw.
func requireIntegration(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ufw", "iptables", "ip", "nsenter", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat("/etc/ufw/before.rules"); err != nil {
		missing = append(missing, "/etc/ufw")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatalf("integration test needs %s", strings.Join(missing, ", "))
	}
	t.Skipf("integration test needs %s", strings.Join(missing, ", "))
}

// testNS is a named network namespace created for one test.
type testNS struct {
	name string
}

func newNS(t testing.TB, run host.Runner, name string) *testNS {
	t.Helper()
	mustRun(t, run, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if _, err := run.Run(context.Background(), "ip", "netns", "del", name); err != nil {
			t.Errorf("deleting netns %s: %v", name, err)
		}
	})
	mustRun(t, run, "ip", "-n", name, "link", "set", "lo", "up")
	return &testNS{name: name}
}

func (n *testNS) path() string { return "/run/netns/" + n.name }

// exec runs a command inside the namespace (setup only: sysctl, iptables).
func (n *testNS) exec(t testing.TB, run host.Runner, args ...string) {
	t.Helper()
	mustRun(t, run, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

func mustRun(t testing.TB, run host.Runner, name string, args ...string) {
	t.Helper()
	if _, err := run.Run(context.Background(), name, args...); err != nil {
		t.Fatal(err)
	}
}

// uniquePrefix names one test's namespaces so parallel runs never collide.
func uniquePrefix(t testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "naf" + hex.EncodeToString(b)
}

// ufwRoot builds a private copy of ufw's configuration under a temp root:
// <root>/etc/ufw and <root>/etc/default/ufw, which nsRunner bind-mounts over
// the real ones for each ufw command, so the machine's firewall files are
// never read or written by the test's ufw.
func ufwRoot(t testing.TB, run host.Runner, defaults map[string]string) host.Root {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc/default"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, run, "cp", "-a", "/etc/ufw", filepath.Join(dir, "etc/ufw"))
	for _, f := range []string{"user.rules", "user6.rules"} {
		pristine := "/usr/share/ufw/iptables/" + f
		if _, err := os.Stat(pristine); err == nil {
			mustRun(t, run, "cp", pristine, filepath.Join(dir, "etc/ufw", f))
		}
	}
	data, err := os.ReadFile("/etc/default/ufw")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		key, _, _ := strings.Cut(l, "=")
		if v, ok := defaults[key]; ok {
			lines[i] = key + `="` + v + `"`
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/default/ufw"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return host.NewRoot(dir)
}

// nsRunner runs commands inside a test host: in its network namespace and
// in a fresh private mount namespace where the host's ufw files are
// replaced by the test's copy. The wrapped program (ufw, and the iptables
// it calls) is the real one.
type nsRunner struct {
	inner host.Runner
	ns    *testNS
	root  host.Root
}

const bindScript = `mount --bind "$1" /etc/ufw && mount --bind "$2" /etc/default/ufw && shift 2 && exec "$@"`

func (r *nsRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	argv := []string{"--net=" + r.ns.path(), "--", "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", bindScript, "sh", r.root.Path("/etc/ufw"), r.root.Path("/etc/default/ufw"), name}
	return r.inner.Run(ctx, "nsenter", append(argv, args...)...)
}

// countingRunner counts ufw invocations: `ufw status` reads, the rest write.
type countingRunner struct {
	inner         host.Runner
	mu            sync.Mutex
	reads, writes int
}

func (c *countingRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	c.mu.Lock()
	if name == "ufw" && len(args) > 0 && args[0] == "status" {
		c.reads++
	} else {
		c.writes++
	}
	c.mu.Unlock()
	return c.inner.Run(ctx, name, args...)
}

func (c *countingRunner) counts() (reads, writes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads, c.writes
}

func (c *countingRunner) reset() {
	c.mu.Lock()
	c.reads, c.writes = 0, 0
	c.mu.Unlock()
}

func newExecRunner(t testing.TB) host.Runner {
	return host.NewExecRunner(zaptest.NewLogger(t))
}

// ufwHost is a lone test host with ufw's private files: its root and a
// runner that runs ufw inside its namespace, counting reads and writes.
func ufwHost(t testing.TB, suffix string) (host.Root, *countingRunner) {
	t.Helper()
	run := newExecRunner(t)
	ns := newNS(t, run, uniquePrefix(t)+suffix)
	root := ufwRoot(t, run, nil)
	return root, &countingRunner{inner: &nsRunner{inner: run, ns: ns, root: root}}
}

// nsNetwork reads the SSH guard's view (sessions, routes, addresses) in the
// test host's namespace, not in the namespace of the test process.
func nsNetwork(t testing.TB, ns *testNS) Network {
	t.Helper()
	nsh, err := netns.GetFromPath(ns.path())
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE, unix.NETLINK_INET_DIAG)
	if err != nil {
		nsh.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); nsh.Close() })
	return NewNetwork(h)
}

// nsFirewall is a Firewall for the test host behind ufw: its ufw files
// under root, its commands and its network in the host's namespace.
func nsFirewall(t testing.TB, root host.Root, ufw *countingRunner, log *zap.Logger) *Firewall {
	t.Helper()
	return New(root, ufw, log).WithNetwork(nsNetwork(t, ufw.inner.(*nsRunner).ns))
}

// fakeNetwork is a network view for unit tests: what SSHView returns.
type fakeNetwork struct{ view SSHView }

func (f fakeNetwork) SSHView(int, string) (SSHView, error) { return f.view, nil }
