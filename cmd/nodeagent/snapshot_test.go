package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/backups"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/release"
)

// runCommand runs `nodeagent --root root --node node args...`.
func runCommand(t *testing.T, root, node string, args ...string) (string, error) {
	t.Helper()
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newSnapshotCommand(g), newSnapshotsCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(append([]string{"--root", root, "--node", node}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// snapshotRoot is a node's tree with the cluster file and a k3s whose
// `etcd-snapshot save` writes a snapshot as k3s names it (the real k3s, or
// its stand-in, is what the e2e runs; here only the command's own logic is
// under test).
func snapshotRoot(t *testing.T, node string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, backups.SnapshotDir)
	script := "#!/bin/sh\n[ \"$1 $2\" = 'etcd-snapshot save' ] || exit 3\nmkdir -p " + dir +
		"\nname=on-demand; [ \"$3\" = --name ] && name=$4\nprintf data > " + dir + "/$name-" + node + "-1764633600\n"
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t)}, 0o644)
	writeFiles(t, root, map[string]string{release.BinaryPath: script}, 0o755)
	if err := os.MkdirAll(filepath.Join(root, "mnt/hd1"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSnapshotOnAServer(t *testing.T) {
	root := snapshotRoot(t, "pi4-1")
	out, err := runCommand(t, root, "pi4-1", "snapshot", "--name", "before-upgrade")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"snapshot before-upgrade-pi4-1-1764633600 (4 B) in " + backups.SnapshotDir,
		"the HDD copies are made on pi5, of its own snapshots (/mnt/hd1/backups)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCommand(t, root, "pi4-1", "snapshots")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(squash(out), "before-upgrade-pi4-1-1764633600 2025-12-02 00:00 4 B sd") ||
		!strings.Contains(out, "HDD copies: on pi5, in /mnt/hd1/backups") {
		t.Errorf("snapshots:\n%s", out)
	}
}

// On the backups node with its HDD absent, the snapshot is taken, the copy
// is refused and nothing lands on the SD card under the mount point.
func TestSnapshotOnTheBackupsNodeWithoutItsDisk(t *testing.T) {
	root := snapshotRoot(t, "pi5")
	_, err := runCommand(t, root, "pi5", "snapshot")
	if err == nil || !strings.Contains(err.Error(), "not copied to /mnt/hd1/backups: the disk at "+filepath.Join(root, "mnt/hd1")+" is not mounted") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "mnt/hd1")); len(entries) != 0 {
		t.Fatalf("the SD card under the mount point holds %v", entries)
	}
	if _, err := os.Stat(filepath.Join(root, backups.SnapshotDir, "on-demand-pi5-1764633600")); err != nil {
		t.Fatalf("the snapshot itself: %v", err)
	}
}

func TestSnapshotRefusedOnAnAgent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: withAgents(t, homelabWithLocalRelease(t), "pi4-1", "pi4-2")}, 0o644)
	for _, cmd := range []string{"snapshot", "snapshots"} {
		if _, err := runCommand(t, root, "pi4-1", cmd); err == nil || !strings.Contains(err.Error(), "pi4-1 is a k3s agent") ||
			!strings.Contains(err.Error(), "on the servers") {
			t.Errorf("%s on an agent: %v", cmd, err)
		}
	}
}
