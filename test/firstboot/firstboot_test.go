package firstboot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

const piCmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait"

// fakeFirmware is the boot-time stand-in for the firmware and the kernel's
// reading of its command line (see the package doc).
const fakeFirmware = `#!/bin/sh
set -eu
mkdir -p /run/fake-firmware
cd /run/fake-firmware
line="$(head -n1 /boot/firmware/cmdline.txt) $(cat /etc/fake-firmware.append 2>/dev/null || true)"
echo "$line" >cmdline
on=0
for w in $line; do
	case "$w" in
	cgroup_enable=memory | cgroup_memory=1) on=1 ;;
	cgroup_disable=memory | cgroup_memory=0) on=0 ;;
	esac
done
printf '#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\nmemory\t0\t1\t%s\n' "$on" >cgroups
if [ "$on" = 1 ]; then echo "cpuset cpu io memory pids" >controllers; else echo "cpuset cpu io pids" >controllers; fi
mount --bind cmdline /proc/cmdline
mount --bind cgroups /proc/cgroups
mount --bind controllers /sys/fs/cgroup/cgroup.controllers
`

const fakeFirmwareUnit = `[Unit]
Description=test stand-in for the Pi firmware's kernel command line
DefaultDependencies=no
Before=sysinit.target nodeagent.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fake-firmware

[Install]
WantedBy=sysinit.target
`

// nodeAddress is pi4-1's address in testdata/cluster.yaml.
const nodeAddress = "10.99.0.11/24"

// lanUnit gives the container, which has only loopback, pi4-1's address on
// the cluster file's interface at every boot, before nodeagent looks for
// it. A veth pair with both ends inside the container's own network
// namespace: the address is local and nothing leaves the container.
const lanUnit = `[Unit]
Description=test stand-in for the Pi's LAN interface
DefaultDependencies=no
Before=network.target nodeagent.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip link add lan0 type veth peer name lan0-peer
ExecStart=/usr/sbin/ip addr add ` + nodeAddress + ` dev lan0
ExecStart=/usr/sbin/ip link set lan0-peer up
ExecStart=/usr/sbin/ip link set lan0 up

[Install]
WantedBy=sysinit.target
`

// node is one container with nodeagent installed as pi4-1.
type node struct {
	t *testing.T
	c *nspawn.Container
}

func (n node) sh(script string) string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n.c.Exec(ctx, "sh", "-c", script)
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func (n node) write(path, content string, mode os.FileMode) {
	n.t.Helper()
	src := filepath.Join(n.t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(src, []byte(content), mode); err != nil {
		n.t.Fatal(err)
	}
	if err := n.c.CopyIn(src, path); err != nil {
		n.t.Fatal(err)
	}
}

// waitFor polls cond every 200ms until it holds or timeout passes; last
// is what cond saw, for the failure message.
func (n node) waitFor(what string, timeout time.Duration, cond func() (bool, string)) string {
	n.t.Helper()
	var last string
	err := host.PollUntil(context.Background(), host.RealClock{}, what, timeout, 200*time.Millisecond,
		func(context.Context) (bool, error) {
			var ok bool
			ok, last = cond()
			return ok, nil
		})
	if err != nil {
		n.t.Fatalf("%v; last: %s", err, last)
	}
	return last
}

// phases lists "phase started|done|failed <phase>" of nodeagent's journal entries this boot.
func (n node) phases() []string {
	var out []string
	for _, l := range strings.Split(n.sh("journalctl -u nodeagent.service -b -q --no-pager -o json"), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		p, ok := e["PHASE"].(string)
		if f := strings.Fields(fmt.Sprint(e["MESSAGE"])); ok && len(f) >= 2 {
			out = append(out, f[0]+" "+f[1]+" "+p) // the message carries the fields too
		}
	}
	return out
}

func (n node) status() string {
	return strings.TrimSpace(n.sh("systemctl show -p StatusText --value nodeagent.service"))
}

func (n node) state() agent.State {
	n.t.Helper()
	var st agent.State
	if err := json.Unmarshal([]byte(n.sh("cat /var/lib/nodeagent/state.json")), &st); err != nil {
		n.t.Fatal(err)
	}
	return st
}

func (n node) bootID() string {
	return strings.TrimSpace(n.sh("cat /proc/sys/kernel/random/boot_id"))
}

// setup boots a container and installs nodeagent (binaries, unit,
// testdata/cluster.yaml, a token) as pi4-1, with the fake firmware and the
// LAN address; append is what the firmware adds after cmdline.txt. No k3s
// release is installed: a test that lets the join go on adds it.
func setup(t *testing.T, append string) node {
	c := nspawn.Boot(t, nspawn.Options{PrivateNetwork: true})
	n := node{t: t, c: c}
	bins := buildBinaries(t)
	for _, b := range []struct{ src, dst string }{
		{filepath.Join(bins, "nodeagent"), "/usr/bin/nodeagent"},
		{filepath.Join(bins, "nodeagentd"), "/usr/lib/nodeagent/nodeagentd"},
		{filepath.Join(repoRoot(t), "systemd", "nodeagent.service"), "/etc/systemd/system/nodeagent.service"},
	} {
		if err := c.CopyIn(b.src, b.dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CopyIn(filepath.Join("testdata", "cluster.yaml"), "/etc/nodeagent/cluster.yaml"); err != nil {
		t.Fatal(err)
	}
	n.write("/etc/nodeagent/token", token(t), 0o600)
	n.write("/etc/nodeagent/agent-token", token(t), 0o600)
	n.write("/etc/systemd/system/nodeagent.service.d/node.conf",
		"[Service]\nExecStart=\nExecStart=/usr/bin/nodeagent --node pi4-1 run\n", 0o644)
	n.write("/boot/firmware/cmdline.txt", piCmdline+"\n", 0o755)
	n.write("/usr/local/sbin/fake-firmware", fakeFirmware, 0o755)
	n.write("/etc/systemd/system/fake-firmware.service", fakeFirmwareUnit, 0o644)
	n.write("/etc/systemd/system/lan.service", lanUnit, 0o644)
	if append != "" {
		n.write("/etc/fake-firmware.append", append+"\n", 0o644)
	}
	n.sh("systemctl daemon-reload && systemctl enable fake-firmware.service lan.service nodeagent.service 2>&1 && systemctl start fake-firmware.service lan.service")
	if got := n.sh("grep -c memory /sys/fs/cgroup/cgroup.controllers || true"); got != "0\n" {
		t.Fatalf("the fake firmware left the memory controller on: %q", got)
	}
	return n
}

// firstBoot starts nodeagent on the fresh node and waits for the one
// reboot it asks for; it returns the first boot's id.
func firstBoot(t *testing.T, n node) string {
	first := n.bootID()
	n.sh("systemctl start --no-block nodeagent.service")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, err := n.c.WaitExit(ctx)
	if err != nil {
		t.Fatalf("no reboot: %v", err)
	}
	if code != 133 {
		t.Fatalf("systemd-nspawn exited with %d, want 133 (reboot)", code)
	}
	n.c.BootAgain(t)
	if got := n.sh("cat /boot/firmware/cmdline.txt"); got != piCmdline+" cgroup_memory=1 cgroup_enable=memory\n" {
		t.Errorf("cmdline.txt after the reboot = %q", got)
	}
	st := n.state()
	if st.Reboot == nil || st.Reboot.BootID != first {
		t.Errorf("state's reboot record = %+v, want the first boot %s", st.Reboot, first)
	}
	if second := n.bootID(); second == first {
		t.Fatalf("boot id %s unchanged across the reboot: the test cannot tell boots apart", first)
	}
	return first
}

func TestFirstBootRebootsOnceAndGoesOn(t *testing.T) {
	n := setup(t, "")
	installRelease(t, n, k3sStandin(t))
	// Stop k3s before the container halts: etcd's shutdown must fit
	// nspawn's halt timeout (registered after Boot, so it runs first).
	t.Cleanup(func() {
		_, _ = n.c.Exec(context.Background(), "timeout", "20", "systemctl", "stop", "nodeagent.service", "k3s.service")
	})
	first := firstBoot(t, n)
	second := n.bootID()
	start := time.Now()
	// After boot the daemon starts again as a unit, passes preflight and goes
	// on to the next phase: no second reboot can come from this boot.
	phases := n.waitFor("a phase after preflight", 2*time.Minute, func() (bool, string) {
		ph := n.phases()
		next := slices.ContainsFunc(ph, func(p string) bool {
			return strings.HasPrefix(p, "phase started ") && p != "phase started preflight"
		})
		return slices.Contains(ph, "phase done preflight") && next, strings.Join(ph, ", ")
	})
	t.Logf("phases after the reboot: %s", phases)
	// The join goes on to its end: k3s installed from the local release,
	// the one-server cluster up, the manifests applied.
	status := n.waitFor(`STATUS "in step"`, 6*time.Minute, func() (bool, string) {
		s := n.status()
		return s == "in step", s
	})
	t.Logf("STATUS %q %s after the second boot", status, time.Since(start).Round(time.Second))
	done := n.phases()
	t.Logf("phases of the second boot: %s", strings.Join(done, ", "))
	for _, step := range []string{agent.StepK3s, agent.StepQuorum, agent.StepManifests} {
		if !slices.Contains(done, "phase done "+step) {
			t.Errorf("the join reached %q without the %s step done", status, step)
		}
	}
	assertJoinedAfterOneReboot(t, n, first, second)
}

// assertJoinedAfterOneReboot checks that the node has joined in the second
// boot and that no other reboot came: the container still runs that boot
// and the reboot record is still the first boot's.
func assertJoinedAfterOneReboot(t *testing.T, n node, first, second string) {
	t.Helper()
	st := n.state()
	if !st.Joined || st.JoinedAt.IsZero() {
		t.Errorf("state does not record the join: joined=%v joinedAt=%v", st.Joined, st.JoinedAt)
	}
	if st.Reboot == nil || st.Reboot.BootID != first {
		t.Errorf("reboot record = %+v, want still the first boot's %s", st.Reboot, first)
	}
	if got := strings.TrimSpace(n.sh("systemctl is-active k3s.service || true")); got != "active" {
		t.Errorf("k3s.service is %q, want active", got)
	}
	// After a reboot nspawn would have exited (133) and nothing would answer.
	if got := n.bootID(); got != second {
		t.Errorf("boot id %s, want still the second boot's %s: the node rebooted again", got, second)
	}
}

func TestLateCgroupDisableIsReportedNotRebootedAgain(t *testing.T) {
	n := setup(t, "cgroup_disable=memory")
	// The release is there, so k3s not starting below is nodeagent's choice.
	installRelease(t, n, k3sStandin(t))
	first := firstBoot(t, n)
	status := n.waitFor("STATUS naming the late cgroup_disable=memory", 2*time.Minute, func() (bool, string) {
		s := n.status()
		return strings.Contains(s, "cgroup_disable=memory after nodeagent's"), s
	})
	t.Logf("STATUS: %s", status)
	if !strings.Contains(status, "is not in /boot/firmware/cmdline.txt") {
		t.Errorf("STATUS lacks where the argument comes from: %s", status)
	}
	out := n.sh("nodeagent --node pi4-1 doctor 2>&1 || true")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "FAIL memory-cgroup /proc/cmdline has cgroup_disable=memory after nodeagent's") {
		t.Errorf("doctor does not name the late cgroup_disable=memory:\n%s", out)
	}
	// The cluster file says preflight.timeSync: warn, so an unsynchronised
	// clock is no failure.
	if strings.Contains(out, "FAIL time-sync") {
		t.Errorf("doctor fails the clock although preflight.timeSync is warn:\n%s", out)
	}
	if out := n.sh("journalctl -u nodeagent.service -b -q --no-pager -o cat"); !strings.Contains(out, "memory cgroup off although the kernel command line enables it") {
		t.Errorf("the journal does not say why:\n%s", out)
	}
	if st := n.state(); st.Reboot == nil || st.Reboot.BootID != first {
		t.Errorf("reboot record = %+v, want still the first boot's", st.Reboot)
	}
	if got := n.sh("ls /var/lib/rancher /usr/local/bin/k3s 2>/dev/null || true"); got != "" {
		t.Errorf("k3s was started into the failure: %q", got)
	}
}

// k3sVersion and releaseBase are testdata/cluster.yaml's k3s.version and
// k3s.releaseBase.
const (
	k3sVersion  = "v1.33.5+k3s1"
	releaseBase = "/opt/k3s-release"
)

// installRelease lays out a k3s release in the container's release
// directory, the air-gap install: <version>/k3s, the test-only k3s
// stand-in, and <version>/sha256sum-amd64.txt, which nodeagent verifies it
// against.
func installRelease(t *testing.T, n node, k3sBinary string) {
	t.Helper()
	dir := releaseBase + "/" + k3sVersion
	if err := n.c.CopyIn(k3sBinary, dir+"/k3s"); err != nil {
		t.Fatal(err)
	}
	n.write(dir+"/sha256sum-amd64.txt", sha256File(t, k3sBinary)+"  k3s\n", 0o644)
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// k3sStandin returns the path of the test-only k3s stand-in:
// $NODEAGENT_K3S_STANDIN, or what test/tools/build-k3s-standin.sh builds
// (or finds cached) and prints on its last line.
func k3sStandin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NODEAGENT_K3S_STANDIN"); p != "" {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "test", "tools", "build-k3s-standin.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building the k3s stand-in: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	path := lines[len(lines)-1]
	t.Logf("k3s stand-in %s (ready in %s)", path, time.Since(start).Round(time.Millisecond))
	return path
}

// token is a new cluster token, made the way `nodeagent token generate`
// makes it.
func token(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := k3s.GenerateToken(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildBinaries builds nodeagent and nodeagentd for the container.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dir+"/", "./cmd/nodeagent", "./cmd/nodeagentd")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nodeagent: %v\n%s", err, out)
	}
	return dir
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
