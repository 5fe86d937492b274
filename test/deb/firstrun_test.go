package deb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/identity"
)

// piCmdline is a Raspberry Pi OS kernel command line without the memory
// cgroup flags, so a node that acted would have edited it.
const piCmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait"

// testNotThisNode is the Pi: hostname pi4-1, the package's homelab
// file active (the old package shipped it so), but the address is not
// 10.0.0.11. The daemon says why it waits, and nothing on the host changes:
// no cmdline edit, no ufw, no k3s, no state.
func testNotThisNode(t *testing.T, n node, _ *pkgState) {
	ctx := context.Background()
	n.sh(ctx, "hostname pi4-1 && systemctl restart nodeagent.service")
	t.Cleanup(func() { n.sh(context.Background(), "hostname "+n.Name()) })
	props := n.waitUnit(ctx, "the daemon waiting for pi4-1's address", 30*time.Second, func(m map[string]string) bool {
		return m["StatusText"] == "waiting for 10.0.0.11 (node pi4-1, by hostname) on a local interface"
	}, "StatusText", "ActiveState")
	t.Logf("STATUS: %s", props["StatusText"])
	mismatch := `hostname "pi4-1" names node pi4-1, but its address 10.0.0.11 is on no local interface (local addresses [`
	out, err := n.Exec(ctx, "sh", "-c", "nodeagent join 2>&1")
	if err == nil || !strings.Contains(out, mismatch) {
		t.Errorf("nodeagent join on the wrong pi4-1: %v, output:\n%s\nwant a failure saying %q", err, out, mismatch)
	}
	if out := n.sh(ctx, "nodeagent doctor || true"); !strings.Contains(out, "FAIL identity") || !strings.Contains(out, mismatch) {
		t.Errorf("nodeagent doctor does not fail the identity check with the mismatch:\n%s", out)
	}
	if got := n.sh(ctx, "cat /boot/firmware/cmdline.txt"); got != piCmdline+"\n" {
		t.Errorf("cmdline.txt = %q, want it untouched", got)
	}
	unchanged := "ls -A /var/lib/nodeagent; command -v k3s; ls -d /etc/rancher /usr/local/bin/k3s /var/lib/rancher 2>/dev/null; true"
	if got := n.sh(ctx, unchanged); got != "" {
		t.Errorf("the host changed: %q, want no state and no k3s", got)
	}
	// The test rootfs has ufw installed, as Recommends: would.
	if got := n.sh(ctx, "ufw status; grep -c nodeagent /etc/ufw/user.rules || true"); got != "Status: inactive\n0\n" {
		t.Errorf("ufw: %q, want it inactive without a nodeagent rule", got)
	}
}

// testUpgradeUnedited installs the old package on a clean machine and
// upgrades it at once: the homelab file nobody edited, on a node that never
// joined, is the example still and goes; the daemon then says what to do,
// and the README's first step (copy the example) is seen at once.
func testUpgradeUnedited(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	homelab, err := os.ReadFile(filepath.Join(repoRoot, "internal/config/default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// No address of the homelab here: the copied example must name no node.
	n.sh(ctx, "ip link del lan0 2>/dev/null || true")
	if out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(st.debs[oldVersion])); err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", oldVersion, err, out)
	}
	if got := n.sh(ctx, "cat /etc/nodeagent/cluster.yaml"); got != string(homelab) {
		t.Fatalf("the old package did not install the homelab as /etc/nodeagent/cluster.yaml")
	}
	out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(st.debs[newVersion]))
	if err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", newVersion, err, out)
	}
	t.Logf("upgrade:\n%s", out)
	if got := n.sh(ctx, "ls -A /etc/nodeagent"); got != "agent-token\nmanifests.d\ntoken\n" {
		t.Errorf("/etc/nodeagent after the upgrade = %q, want the unedited cluster.yaml gone (no .dpkg-bak either)", got)
	}
	if got := n.sh(ctx, "cat "+identity.ExamplePath); got != string(homelab) {
		t.Errorf("%s is not the homelab", identity.ExamplePath)
	}
	noFile := "waiting for a usable cluster file: " + identity.ErrNoClusterFile.Error()
	n.waitUnit(ctx, "the daemon asking for a cluster file", 30*time.Second, func(m map[string]string) bool {
		return m["StatusText"] == noFile
	}, "StatusText")
	n.sh(ctx, "cp "+identity.ExamplePath+" /etc/nodeagent/cluster.yaml")
	props := n.waitUnit(ctx, "the daemon reading the copied example", 30*time.Second, func(m map[string]string) bool {
		return strings.HasPrefix(m["StatusText"], "waiting for a usable cluster file: this machine is no node of the cluster")
	}, "StatusText")
	t.Logf("STATUS with the unedited example: %s", props["StatusText"])
	n.sh(ctx, "rm /etc/nodeagent/cluster.yaml")
}
