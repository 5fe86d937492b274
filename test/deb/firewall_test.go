package deb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sshListener makes systemd in the container listen on port 22 (one short
// service per connection), a stand-in for sshd that the rootfs lacks.
const sshListener = `cat >/etc/systemd/system/probe-ssh.socket <<'EOT'
[Socket]
ListenStream=22
Accept=yes
EOT
cat >/etc/systemd/system/probe-ssh@.service <<'EOT'
[Service]
ExecStart=/bin/echo SSH-2.0-probe
StandardOutput=socket
EOT
systemctl daemon-reload && systemctl start probe-ssh.socket`

// testPurgeUndoesTheFirewall installs the package on a host whose LAN is not
// the example's (only 10.0.0.50 may SSH in), lets the daemon put its
// firewall in place, and purges the package: ufw is as before the install
// and SSH from another LAN host connects again, as it did before.
func testPurgeUndoesTheFirewall(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	client := lanClient(t, n)
	n.sh(ctx, sshListener)
	probe := func() error {
		return exec.CommandContext(ctx, "ip", "netns", "exec", client, "timeout", "3",
			"bash", "-c", "exec 3<>/dev/tcp/10.0.0.11/22").Run()
	}
	before := n.sh(ctx, "ufw status verbose")
	if err := probe(); err != nil {
		t.Fatalf("SSH from 10.0.0.60 before the install: %v, want it to connect", err)
	}

	out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(st.debs[newVersion]))
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	// A first install (no cluster file yet) says what to do next.
	for _, step := range []string{"Next steps:", "examples/cluster.yaml /etc/nodeagent/cluster.yaml", "nodeagent validate", "nodeagent token generate", "nodeagent doctor"} {
		if !strings.Contains(out, step) {
			t.Errorf("dpkg -i of a first install does not say %q:\n%s", step, out)
		}
	}
	cluster := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(cluster, []byte(renderCluster(t, n.Name(), true)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.CopyIn(cluster, "/etc/nodeagent/cluster.yaml"); err != nil {
		t.Fatal(err)
	}
	n.sh(ctx, "systemctl restart nodeagent.service")
	n.waitFor(ctx, "ufw enabled with nodeagent's rules", 2*time.Minute, func() (bool, string) {
		out, _ := n.Exec(ctx, "ufw", "status")
		return strings.Contains(out, "Status: active") && strings.Contains(out, "10.0.0.50"), out
	})
	if err := probe(); err == nil {
		t.Fatal("SSH from 10.0.0.60, no SSH source, connects with nodeagent's firewall: the test shows nothing")
	}

	out, err = n.Exec(ctx, "dpkg", "--purge", "nodeagent")
	if err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	t.Logf("dpkg --purge:\n%s", out)
	for _, want := range []string{"ufw: disable ufw (it was disabled before nodeagent)", "ufw: delete rule nodeagent:ssh", "nodeagent leaves in place, on purpose:"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg --purge does not say %q", want)
		}
	}
	if diff := cmp.Diff(before, n.sh(ctx, "ufw status verbose")); diff != "" {
		t.Errorf("ufw status verbose after the purge against before the install (-before +after):\n%s", diff)
	}
	if got := n.sh(ctx, "ufw show added"); strings.Contains(got, "nodeagent") {
		t.Errorf("nodeagent's rules survive the purge:\n%s", got)
	}
	if err := probe(); err != nil {
		t.Errorf("SSH from 10.0.0.60 after the purge: %v, want it to connect as before the install", err)
	}
}

// lanClient wires the container's LAN: lan0 (10.0.0.11/24, replacing the
// one testConfigure made inside the container) to a LAN host 10.0.0.60 in
// a network namespace of its own, and returns that namespace's name.
func lanClient(t *testing.T, n node) string {
	t.Helper()
	ctx := context.Background()
	name := "na-lan-" + randomHex(t, 3)
	mustHost(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	n.sh(ctx, "ip link del lan0 2>/dev/null || true")
	mustHost(t, "ip", "link", "add", "eth0", "netns", name, "type", "veth", "peer", "name", "lan0", "netns", strconv.Itoa(n.Leader()))
	mustHost(t, "ip", "-n", name, "addr", "add", "10.0.0.60/24", "dev", "eth0")
	mustHost(t, "ip", "-n", name, "link", "set", "eth0", "up")
	mustHost(t, "ip", "-n", name, "link", "set", "lo", "up")
	n.sh(ctx, "ip addr add 10.0.0.11/24 dev lan0 && ip link set lan0 up")
	return name
}

func mustHost(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// waitFor polls check until it holds or timeout passes.
func (n node) waitFor(ctx context.Context, what string, timeout time.Duration, check func() (bool, string)) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			n.t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
