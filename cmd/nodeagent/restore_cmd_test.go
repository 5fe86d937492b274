package main

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/restore"
)

// restoreRoot is a host tree with the built-in homelab as its cluster
// file and one snapshot (a bbolt header) in k3s's snapshot directory.
func restoreRoot(t *testing.T) string {
	t.Helper()
	def, _, err := run(t, "config", "default")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	snap := make([]byte, 4096)
	binary.LittleEndian.PutUint32(snap[16:], 0xED0CDAED)
	writeFiles(t, root, map[string]string{
		"etc/nodeagent/cluster.yaml":              def,
		restore.SnapshotDir[1:] + "/snap-1":       string(snap),
		restore.SnapshotDir[1:] + "/notes.txt":    "not a snapshot",
		"var/lib/rancher/k3s/server/db/etcd/name": "pi4-1-0a1b2c3d\n",
	}, 0o600)
	return root
}

func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data := ""
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			data = string(b)
		}
		out = append(out, p+" "+info.Mode().String()+" "+data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func runIn(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--root", root, "--node", "pi4-1"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// Without --yes, restore says what it would do and changes nothing; bad
// input is a clear error, also changing nothing.
func TestRestoreRefusesWithoutYesAndOnBadInput(t *testing.T) {
	root := restoreRoot(t)
	before := treeOf(t, root)
	out, err := runIn(t, root, "restore", "snap-1")
	if err == nil || !strings.Contains(err.Error(), "refusing to restore without --yes") {
		t.Errorf("restore without --yes: err = %v", err)
	}
	for _, want := range []string{restore.SnapshotDir + "/snap-1", "4096 bytes", "every change to the cluster since the snapshot was taken is lost",
		"pi4-2, pi5", "db.before-restore-"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore without --yes says\n%s\nwithout %q", out, want)
		}
	}
	cases := []struct{ arg, want string }{
		{"missing", "no such file"},
		{"notes.txt", "not an etcd snapshot"},
		{filepath.Join(root, "nowhere"), "no such file"},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct{ arg, want string }{"snap-1", "k3s is not installed here"})
	}
	for _, tc := range cases {
		if _, err := runIn(t, root, "restore", tc.arg, "--yes"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("restore %s --yes: err = %v, want %q", tc.arg, err, tc.want)
		}
	}
	if diff := strings.Join(before, "\n") != strings.Join(treeOf(t, root), "\n"); diff {
		t.Error("a refused restore changed the host tree")
	}
}
