package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	snapshotDir = "/var/lib/rancher/k3s/server/db/snapshots"
	copiesDir   = "/mnt/hd1/backups/etcd-snapshots"
)

var snapshotLine = regexp.MustCompile(`snapshot (\S+-pi[0-9-]+-[0-9]+) \(`)

// snapshots: `nodeagent snapshot` on pi5, the backups node, takes one with
// k3s and copies it to its HDD (same bytes, root-only); on pi4-1 it takes
// one and says where the HDD copies come from. A snapshot k3s takes while
// pi5's HDD is pulled (as a scheduled one would be) leaves nothing on
// the SD card under /mnt/hd1, and the first pass after the disk is back
// copies it. While the HDD is away its labels are gone and a pod that needs
// it lands nowhere.
func (sc *scenario) snapshots(t *testing.T) {
	pi5, pi41 := sc.h.nodes["pi5"], sc.h.nodes["pi4-1"]
	start := time.Now()
	out := pi5.mustExec(t, "nodeagent", "snapshot", "--name", "e2e")
	m := snapshotLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "copied "+m[1]+" to "+copiesDir) {
		t.Fatalf("pi5: nodeagent snapshot said:\n%s", out)
	}
	taken := time.Since(start).Round(time.Millisecond)
	name := m[1]
	if local, hdd := pi5.sha256Of(t, snapshotDir+"/"+name), pi5.sha256Of(t, copiesDir+"/"+name); local != hdd {
		t.Errorf("pi5: the HDD copy of %s has sha256 %s, the snapshot %s", name, hdd, local)
	}
	if mode := strings.TrimSpace(pi5.mustExec(t, "stat", "-c", "%a %U", copiesDir+"/"+name, copiesDir)); mode != "600 root\n700 root" {
		t.Errorf("pi5: copy and directory modes %q, want 600 root and 700 root", mode)
	}
	if out := pi41.mustExec(t, "nodeagent", "snapshot"); !snapshotLine.MatchString(out) || !strings.Contains(out, "the HDD copies are made on pi5") {
		t.Errorf("pi4-1: nodeagent snapshot said:\n%s", out)
	}

	// The HDD goes away; k3s takes a snapshot; nothing lands under /mnt/hd1.
	cs := pi41.clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*failureTimeout)
	defer cancel()
	// Pulled: the loop device goes, and systemd unmounts the filesystem,
	// as its BindsTo= on the device unit does on a Pi (no udev here).
	sc.h.disk.unplug(t)
	pi5.mustExec(t, "systemctl", "stop", "mnt-hd1.mount")
	sc.hddAway(ctx, t, cs)
	pi5.mustExec(t, "k3s", "etcd-snapshot", "save", "--name", "away")
	pi5.journalUntil(t, "the copy waits for the disk", func(es []entry) error {
		for _, e := range es {
			if strings.HasPrefix(e.Message, "etcd snapshots not copied: the disk holding the backups directory is not mounted") {
				return nil
			}
		}
		return fmt.Errorf("no entry says the copy waits for the disk")
	})
	if out, err := pi5.exec("sh", "-c", "mountpoint -q /mnt/hd1 && echo mounted; ls -A /mnt/hd1"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("pi5: with the HDD away, /mnt/hd1 holds %q (%v): want it unmounted and empty", out, err)
	}

	// Plugged back: the block event mounts it again and the snapshot taken
	// meanwhile is copied.
	back := time.Now()
	sc.h.disk.plug(t)
	var away string
	poll(t, "pi5 copied the snapshot taken while its HDD was away", 2*time.Minute, pollEvery, func() error {
		out, err := pi5.exec("sh", "-c", "ls "+copiesDir)
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "away-pi5-") {
				away = f
				return nil
			}
		}
		return fmt.Errorf("copies: %s; agent: %s", out, pi5.unitProp("nodeagent.service", "StatusText"))
	})
	sc.hddBack(ctx, t, cs)
	list := pi5.mustExec(t, "nodeagent", "snapshots")
	for _, s := range []string{name, away} {
		if !regexp.MustCompile(regexp.QuoteMeta(s) + `\s.*\ssd\+hdd\n`).MatchString(list) {
			t.Errorf("pi5: snapshots does not list %s on sd+hdd:\n%s", s, list)
		}
	}
	sc.sum.add("snapshots", "ok", fmt.Sprintf("taken and copied to pi5's HDD in %s; one taken while the HDD was away copied %s after it was plugged back",
		taken, time.Since(back).Round(time.Millisecond)))
}
