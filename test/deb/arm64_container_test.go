package deb

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
	"github.com/nodeagent/nodeagent/test/harness/procstat"
)

// TestArm64Container boots an arm64 Debian rootfs (NODEAGENT_ARM64_ROOTFS,
// e.g. `debootstrap --arch=arm64 --variant=minbase
// --include=systemd,systemd-sysv,dbus,iproute2,libpam-systemd bookworm DIR`)
// in the container harness, every arm64 program run by qemu through
// binfmt_misc, installs the arm64 package there and measures the waiting
// daemon under systemd. Opt-in: a cold arm64 debootstrap under emulation
// took 5.6 minutes on the 2-core test machine, so CI does not build it.
func TestArm64Container(t *testing.T) {
	rootfs := os.Getenv("NODEAGENT_ARM64_ROOTFS")
	if rootfs == "" {
		t.Skip("set NODEAGENT_ARM64_ROOTFS to an arm64 Debian rootfs to boot it under emulation")
	}
	requireHost(t)
	if data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil || string(data[:7]) != "enabled" {
		t.Fatalf("booting an arm64 rootfs needs binfmt_misc's qemu-aarch64 entry (update-binfmts --enable qemu-aarch64): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deb, err := buildDebFor(ctx, t.TempDir(), newVersion, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	c := nspawn.Boot(t, nspawn.Options{Rootfs: rootfs, PrivateNetwork: true, BootTimeout: 5 * time.Minute})
	n := node{Container: c, t: t}
	t.Logf("arm64 container booted in %s", c.BootTime().Round(100*time.Millisecond))
	if got := n.sh(ctx, "uname -m"); got != "aarch64\n" {
		t.Fatalf("uname -m in the container = %q, want aarch64", got)
	}
	if err := n.CopyIn(deb, "/tmp/"+filepath.Base(deb)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(deb)); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	t.Logf("installed in %s", time.Since(start).Round(100*time.Millisecond))
	want := "waiting for a usable cluster file: " + identity.ErrNoClusterFile.Error()
	props := n.waitUnit(ctx, "the arm64 daemon asking for a cluster file", 2*time.Minute, func(m map[string]string) bool {
		return m["StatusText"] == want
	}, "StatusText", "MainPID", "ActiveState")
	window, err := procstat.Window(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w, err := procstat.WatchFor(n.Path("/proc/"+props["MainPID"]), window)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(props["MainPID"])
	t.Logf("idle arm64 daemon under systemd and qemu (pid %d), waiting for a cluster file: %s", pid, w)
}
