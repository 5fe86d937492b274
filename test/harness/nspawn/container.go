package nspawn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Bind is a host path bind-mounted into the container.
type Bind struct {
	Host      string
	Container string // defaults to Host
	ReadOnly  bool
}

// Options configure Boot.
type Options struct {
	// Name is the machine name (letters, digits, "-"); it defaults to one
	// derived from the test name plus a random suffix, as nspawn keeps
	// per-name state in /run/systemd/nspawn and packages' tests run in
	// parallel. It must be unique among the running containers.
	Name string
	// Hostname is the container's hostname; default Name. Two containers
	// may share it (each has its own UTS namespace): a machine booted
	// again from a fresh image under its old hostname needs a new Name.
	Hostname string
	// Rootfs is the image to boot; default Rootfs(t). It is never written:
	// the container runs on an overlay whose upper layer is in t.TempDir().
	Rootfs string
	Binds  []Bind
	// PrivateNetwork gives the container its own network namespace with only
	// a loopback interface.
	PrivateNetwork bool
	// NetNSPath joins an existing network namespace (e.g. /run/netns/x that
	// the test wired up with veth pairs) instead.
	NetNSPath string
	// BootTimeout bounds the wait for is-system-running; default 90s.
	BootTimeout time.Duration
	// Args are extra systemd-nspawn arguments.
	Args []string
}

// Container is a booted systemd-nspawn container.
type Container struct {
	t       testing.TB
	name    string
	dir     string
	cmd     *exec.Cmd
	console *syncBuffer
	leader  int
	exited  chan struct{} // closed when systemd-nspawn has exited
	booted  time.Duration
	stop    sync.Once
	opts    Options
}

// Boot starts a container and waits until its systemd reports running or
// degraded. The container is stopped and its overlay removed in t.Cleanup.
func Boot(t testing.TB, opts Options) *Container {
	t.Helper()
	requireHost(t)
	if opts.Rootfs == "" {
		opts.Rootfs = Rootfs(t)
	}
	if opts.Name == "" {
		opts.Name = machineName(t.Name()) + "-" + randomHex(2)
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 90 * time.Second
	}
	if opts.Hostname == "" {
		opts.Hostname = opts.Name
	}
	c := &Container{t: t, name: opts.Name, console: &syncBuffer{}, opts: opts}
	c.dir = overlayRoot(t, opts.Rootfs, opts.Hostname)
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
		c.Stop()
	})
	c.boot(t)
	return c
}

// BootAgain boots the same root again after the container shut down by
// itself (a reboot makes nspawn exit with 133, see WaitExit): what the
// machine wrote survives, as on a real reboot.
func (c *Container) BootAgain(t testing.TB) {
	t.Helper()
	select {
	case <-c.exited:
	default:
		t.Fatalf("booting %s again: systemd-nspawn is still running", c.name)
	}
	c.stop = sync.Once{}
	c.leader = 0
	c.boot(t)
}

// boot starts systemd-nspawn on c.dir and waits for systemd to be up.
func (c *Container) boot(t testing.TB) {
	t.Helper()
	opts := c.opts
	start := time.Now()
	c.exited = make(chan struct{})
	c.cmd = exec.Command("systemd-nspawn", nspawnArgs(c.dir, opts)...)
	c.cmd.Env = nspawnEnv(os.Environ())
	c.cmd.Stdout, c.cmd.Stderr = c.console, c.console
	// If the test binary dies without cleanups, nspawn gets SIGTERM and
	// halts the container (nspawn(1): SIGTERM triggers an orderly shutdown).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting systemd-nspawn: %v", err)
	}
	cmd, exited := c.cmd, c.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), opts.BootTimeout)
	defer cancel()
	if err := c.waitLeader(ctx); err != nil {
		t.Fatalf("booting container %s: %v\nconsole:\n%s", c.name, err, lastLines(c.console.String(), 40))
	}
	if err := c.waitRunning(ctx); err != nil {
		t.Fatalf("booting container %s: %v", c.name, err)
	}
	c.booted = time.Since(start)
	t.Logf("container %s booted in %s (leader pid %d)", c.name, c.booted.Round(time.Millisecond), c.leader)
}

// nspawnArgs is the systemd-nspawn command line. --register=no and
// --keep-unit because there is no host systemd (no machined, no scopes to
// create): the container stays in the test's own cgroup.
func nspawnArgs(dir string, opts Options) []string {
	args := []string{
		"--quiet", "--boot", "--register=no", "--keep-unit",
		"--directory=" + dir, "--machine=" + opts.Name,
		"--console=read-only", "--link-journal=no",
	}
	if opts.Hostname != "" && opts.Hostname != opts.Name {
		args = append(args, "--hostname="+opts.Hostname)
	}
	switch {
	case opts.NetNSPath != "":
		// nspawn keeps CAP_NET_ADMIN only with --private-network; a node
		// in a namespace of the test's still configures its own firewall.
		args = append(args, "--network-namespace-path="+opts.NetNSPath, "--capability=CAP_NET_ADMIN")
	case opts.PrivateNetwork:
		args = append(args, "--private-network")
	}
	for _, b := range opts.Binds {
		flag := "--bind="
		if b.ReadOnly {
			flag = "--bind-ro="
		}
		dst := b.Container
		if dst == "" {
			dst = b.Host
		}
		args = append(args, flag+b.Host+":"+dst)
	}
	return append(args, opts.Args...)
}

// Name is the machine name.
func (c *Container) Name() string { return c.name }

// Running reports whether systemd-nspawn still runs: false once Stop
// returned or the container halted by itself.
func (c *Container) Running() bool {
	if c.exited == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Leader is the host PID of the container's PID 1.
func (c *Container) Leader() int { return c.leader }

// BootTime is how long Boot took, from overlay to is-system-running.
func (c *Container) BootTime() time.Duration { return c.booted }

// Path maps an absolute path inside the container to the host.
func (c *Container) Path(p string) string {
	return fmt.Sprintf("/proc/%d/root/%s", c.leader, strings.TrimPrefix(p, "/"))
}

// Root is a host.Root at the container's root directory.
func (c *Container) Root() host.Root { return host.NewRoot(fmt.Sprintf("/proc/%d/root", c.leader)) }

// BusSocket is the host path of the container's system D-Bus socket.
func (c *Container) BusSocket() string { return c.Path("/run/dbus/system_bus_socket") }

// Console is what the container printed on its console so far.
func (c *Container) Console() string { return c.console.String() }

// machineName turns a test name into a valid, short machine name.
func machineName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "na-" + strings.Trim(name, "-")
}
