// Package uninstall checks `nodeagent leave` and `nodeagent uninstall` on one
// server in a booted container, k3s being the test stand-in installed from
// a local release directory by `nodeagent join`. What k3s's containers
// would leave behind and the stand-in does not make (a shim with a child,
// mounts under /run/k3s and /var/lib/kubelet, a CNI network namespace,
// cni0 with a veth, flannel.1, KUBE-/CNI-/FLANNEL chains) the test makes
// itself inside the container first, so that their removal is seen.
package uninstall

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/hostbuild"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

const (
	repoRoot   = "../.."
	k3sVersion = "v1.33.5+k3s1"
	shim       = "/var/lib/rancher/k3s/data/0a1b2c3d/bin/containerd-shim-runc-v2"
)

// hdd is the data disk the node's cluster file would mount: its files live
// in /srv/hdd, bind-mounted by a mount unit written the way internal/disk
// writes its units (the header uninstall recognises them by).
const hddUnit = `# Written by nodeagent for the disk label=hd1; edits are replaced.
[Unit]
Description=nodeagent data disk at /mnt/hd1

[Mount]
What=/srv/hdd
Where=/mnt/hd1
Type=none
Options=bind

[Install]
WantedBy=local-fs.target
`

// leftovers makes what a k3s node with running pods has and the stand-in
// does not.
const leftovers = `set -e
setsid -f ` + shim + ` -c 'sleep 1001 & sleep 1002; :' </dev/null >/dev/null 2>&1
mkdir -p /run/k3s/containerd/task/rootfs /var/lib/kubelet/pods/u1/volumes/token
mount -t tmpfs rootfs /run/k3s/containerd/task/rootfs
mount -t tmpfs token /var/lib/kubelet/pods/u1/volumes/token
ip netns add cni-0a1b2c3d
ip link add cni0 type bridge
ip link add veth0a1b type veth peer name veth0a1b-peer
ip link set veth0a1b master cni0
ip link add flannel.1 type veth peer name flannel-peer
iptables -t nat -N KUBE-SERVICES
iptables -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables -t nat -N FLANNEL-POSTRTG
iptables -t nat -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
iptables -N CNI-FORWARD
iptables -A FORWARD -j CNI-FORWARD
iptables -A FORWARD -s 10.42.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
ip6tables -N KUBE-FIREWALL
ip6tables -A INPUT -j KUBE-FIREWALL
`

func TestLeaveRefusedThenUninstall(t *testing.T) {
	hostbuild.RequireHost(t, "the uninstall test", "systemd-nspawn", "nsenter", "go")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := joinedNode(t, ctx)
	sh := func(script string) string {
		t.Helper()
		out, err := c.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return out
	}

	// The only server cannot leave: no voter would be left. Nothing changes.
	out, err := c.Exec(ctx, "nodeagent", "leave")
	if err == nil || !strings.Contains(err.Error(), "leaving would cost etcd its quorum") || !strings.Contains(err.Error(), "no voter would be left") {
		t.Fatalf("leave of the only server: %v\n%s", err, out)
	}
	if got := sh("systemctl is-active k3s.service; systemctl is-enabled nodeagent.service; test -e /var/lib/nodeagent/left && echo left || true"); got != "active\nenabled\n" {
		t.Errorf("a refused leave changed the node: %q", got)
	}

	sh(leftovers)
	sh("systemctl daemon-reload && systemctl start mnt-hd1.mount && test -f /mnt/hd1/photos/1.jpg")
	// The owner's own filesystem under k3s's data directory: it stays.
	sh("mkdir -p /srv/own /var/lib/rancher/k3s/storage/own && echo mine >/srv/own/keep && mount --bind /srv/own /var/lib/rancher/k3s/storage/own")
	sh("ufw allow from 192.0.2.7 to any port 8080 proto tcp comment owner-rule >/dev/null")
	if got := sh("grep -c " + hexComment("nodeagent:") + " /etc/ufw/user.rules || true"); got == "0\n" {
		t.Fatal("join wrote no UFW rules of nodeagent: the test could not see them go")
	}

	// A node that left is not joined again until it is uninstalled (the
	// record as leave writes it; the only server cannot leave for real).
	sh(`echo '{"node":"x","at":"2026-12-03T04:00:00Z"}' >/var/lib/nodeagent/left && chmod 600 /var/lib/nodeagent/left`)
	out, err = c.Exec(ctx, "nodeagent", "join")
	if err == nil || !strings.Contains(err.Error(), "this node left the cluster") {
		t.Fatalf("join of a node that left: %v\n%s", err, out)
	}

	// Without --yes and without a terminal it refuses, and changes nothing.
	out, err = c.Exec(ctx, "nodeagent", "uninstall")
	if err == nil || !strings.Contains(err.Error(), "stdin is not a terminal") || !strings.Contains(out, "nodeagent uninstall will:") {
		t.Fatalf("uninstall without --yes: %v\n%s", err, out)
	}
	if got := sh("systemctl is-active k3s.service"); got != "active\n" {
		t.Fatalf("a refused uninstall stopped k3s: %q", got)
	}

	out, err = c.Exec(ctx, "nodeagent", "uninstall", "--yes")
	t.Logf("uninstall --yes:\n%s", out)
	if err != nil {
		t.Fatalf("uninstall --yes: %v", err)
	}
	checkNothingLeft(t, sh)
	checkKept(t, sh)
	if got := sh("ls /var/lib/nodeagent/left 2>/dev/null || true"); got != "" {
		t.Errorf("the leave record stays after uninstall: %q", got)
	}
	// Run again, it finishes without error and keeps what it kept.
	if out, err := c.Exec(ctx, "nodeagent", "uninstall", "--yes"); err != nil {
		t.Fatalf("uninstall --yes again: %v\n%s", err, out)
	}
	checkKept(t, sh)
}

func checkNothingLeft(t *testing.T, sh func(string) string) {
	t.Helper()
	for what, script := range map[string]string{
		"k3s units":         "ls /etc/systemd/system/ | grep '^k3s' || true",
		"k3s unit loaded":   "systemctl list-units --all --plain --no-legend 'k3s*' || true",
		"nodeagent running": "systemctl is-enabled nodeagent.service | grep -v disabled || true",
		"mount unit":        "ls /etc/systemd/system/mnt-hd1.mount 2>/dev/null; grep ' /mnt/hd1 ' /proc/self/mountinfo || true",
		"k3s mounts":        "grep -E ' (/run/k3s|/var/lib/kubelet|/run/netns/cni-)' /proc/self/mountinfo || true",
		"cni netns":         "ip netns list | grep cni- || true",
		"interfaces":        "ip -o link show | grep -E ': (cni0|flannel\\.1|veth0a1b)[:@]' || true",
		"iptables chains":   "iptables-save | grep -iE 'KUBE-|CNI-|flannel' || true",
		"ip6tables chains":  "ip6tables-save | grep -iE 'KUBE-|CNI-|flannel' || true",
		"shim and child":    "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null; echo; done | grep -E '^(" + shim + "|sleep 100[12])' || true",
		"nodeagent ufw":     "grep " + hexComment("nodeagent:") + " /etc/ufw/user.rules /etc/ufw/user6.rules || true",
		"k3s files":         "ls -d /usr/local/bin/k3s /etc/rancher/k3s /run/k3s /run/flannel /var/lib/kubelet /var/lib/cni /var/lib/rancher/k3s/server /var/lib/rancher/k3s/agent 2>/dev/null || true",
	} {
		if got := sh(script); strings.TrimSpace(got) != "" {
			t.Errorf("%s left behind:\n%s", what, got)
		}
	}
}

func checkKept(t *testing.T, sh func(string) string) {
	t.Helper()
	if got := sh("cat /srv/hdd/photos/1.jpg /srv/hdd/backups/db.dump"); got != "photo\ndump\n" {
		t.Errorf("the HDD's files: %q", got)
	}
	if got := sh("cat /var/lib/rancher/k3s/storage/own/keep; grep -c ' /var/lib/rancher/k3s/storage/own ' /proc/self/mountinfo"); got != "mine\n1\n" {
		t.Errorf("the owner's filesystem under k3s's data directory: %q", got)
	}
	if got := sh("grep -c " + hexComment("owner-rule") + " /etc/ufw/user.rules"); got != "1\n" {
		t.Errorf("the owner's ufw rule: %q", got)
	}
	aside := sh("ls -d /var/lib/rancher/k3s-server-db.* && stat -c %a /var/lib/rancher/k3s-server-db.*")
	if !strings.Contains(aside, "/var/lib/rancher/k3s-server-db.") || !strings.HasSuffix(aside, "700\n") {
		t.Errorf("etcd's data not moved aside, root only: %q", aside)
	}
	if got := sh("ls /var/lib/rancher/k3s-server-db.*/etcd/member"); !strings.Contains(got, "wal") {
		t.Errorf("the moved etcd data lacks its wal: %q", got)
	}
}

// joinedNode boots a container and joins it as the one server of
// testdata/cluster.yaml, with nodeagent's unit installed and enabled (not
// started: the test joins by hand) and the HDD's mount unit in place.
func joinedNode(t *testing.T, ctx context.Context) *nspawn.Container {
	t.Helper()
	bin := hostbuild.Nodeagent(t, repoRoot)
	standin := hostbuild.Standin(t, repoRoot)
	c := nspawn.Boot(t, nspawn.Options{PrivateNetwork: true})
	// Stop k3s before the container halts: etcd's shutdown must fit
	// nspawn's halt timeout (a failed test may leave it running).
	t.Cleanup(func() { _, _ = c.Exec(context.Background(), "timeout", "20", "systemctl", "stop", "k3s.service") })
	node := c.Name()
	for _, args := range [][]string{
		{"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0-peer"},
		{"ip", "addr", "add", "10.79.0.11/24", "dev", "lan0"},
		{"ip", "link", "set", "lan0", "up"},
		{"ip", "link", "set", "lan0-peer", "up"},
	} {
		if out, err := c.Exec(ctx, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	hostbuild.CopyIn(t, c, bin, "/usr/bin/nodeagent")
	hostbuild.CopyIn(t, c, filepath.Join(repoRoot, "systemd", "nodeagent.service"), "/etc/systemd/system/nodeagent.service")
	hostbuild.CopyIn(t, c, standin, "/srv/k3s-release/"+k3sVersion+"/k3s")
	hostbuild.CopyIn(t, c, "/bin/sh", shim)
	hostbuild.WriteIn(t, c, "/srv/k3s-release/"+k3sVersion+"/sha256sum-amd64.txt", hostbuild.ChecksumLine(t, standin), 0o644)
	cfg, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hostbuild.WriteIn(t, c, "/etc/nodeagent/cluster.yaml", []byte(strings.ReplaceAll(string(cfg), "NODE", node)), 0o644)
	hostbuild.WriteIn(t, c, "/etc/nodeagent/token", []byte("uninstall-test-token-"+node+"\n"), 0o600)
	hostbuild.WriteIn(t, c, "/etc/nodeagent/agent-token", []byte("uninstall-test-agent-token-"+node+"\n"), 0o600)
	hostbuild.WriteIn(t, c, "/srv/hdd/photos/1.jpg", []byte("photo\n"), 0o644)
	hostbuild.WriteIn(t, c, "/srv/hdd/backups/db.dump", []byte("dump\n"), 0o600)
	hostbuild.WriteIn(t, c, "/etc/systemd/system/mnt-hd1.mount", []byte(hddUnit), 0o644)
	if out, err := c.Exec(ctx, "sh", "-c", "mkdir -p /mnt/hd1 && systemctl daemon-reload && systemctl enable nodeagent.service mnt-hd1.mount 2>&1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := c.Exec(ctx, "nodeagent", "join")
	if err != nil || !strings.Contains(out, "joined in") {
		t.Fatalf("join: %v\n%s", err, out)
	}
	t.Logf("join:\n%s", out)
	return c
}

// hexComment is how ufw writes a rule's comment in user.rules
// ("comment=<hex>").
func hexComment(s string) string { return "comment=" + hex.EncodeToString([]byte(s)) }
