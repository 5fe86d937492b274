package uninstall

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A tree with a filesystem mounted below it (by the mount table) loses
// everything but that mount point, what is on it and the directories
// above it.
func TestRemoveTreeKeepsWhatIsMountedBelow(t *testing.T) {
	dir := t.TempDir()
	root := host.NewRoot(dir)
	write(t, root.Path("/proc/self/mountinfo"),
		"25 1 8:1 / / rw - ext4 /dev/sda1 rw\n40 25 8:17 / /var/lib/rancher/k3s/storage/hd rw - ext4 /dev/sdb1 rw\n")
	write(t, root.Path(DataDir+"/agent/images/a.tar"), "image")
	write(t, root.Path(DataDir+"/storage/hd/photos/1.jpg"), "photo")
	write(t, root.Path(DataDir+"/storage/pvc-1/data"), "pvc")
	a := &Applier{Root: root, Log: zaptest.NewLogger(t)}
	left, err := a.removeTree(DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != DataDir+"/storage/hd: another filesystem is mounted there; it and what is on it stay" {
		t.Errorf("left = %q", left)
	}
	if b, err := os.ReadFile(root.Path(DataDir + "/storage/hd/photos/1.jpg")); err != nil || string(b) != "photo" {
		t.Errorf("the mounted filesystem's file: %q, %v", b, err)
	}
	for _, gone := range []string{DataDir + "/agent", DataDir + "/storage/pvc-1"} {
		if _, err := os.Lstat(root.Path(gone)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", gone, err)
		}
	}

	// Without the mount, the whole tree goes.
	write(t, root.Path("/proc/self/mountinfo"), "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
	if left, err := a.removeTree(DataDir); err != nil || len(left) != 0 {
		t.Fatalf("left %q, %v", left, err)
	}
	if _, err := os.Lstat(root.Path(DataDir)); !os.IsNotExist(err) {
		t.Errorf("%s still there (%v)", DataDir, err)
	}
}

// When etcd's data cannot be moved aside, nothing more is removed: the
// data directory, and the data in it, stay.
func TestFailedMoveAsideStopsTheRemoval(t *testing.T) {
	dir := t.TempDir()
	root := host.NewRoot(dir)
	write(t, root.Path("/proc/self/mountinfo"), "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
	write(t, root.Path(EtcdDataDir+"/etcd/member/wal/0.wal"), "wal")
	// The aside directory's parent is a file: the rename cannot succeed.
	write(t, root.Path("/var/lib/rancher"+"/k3s-server-db.x"), "")
	p := Plan{Actions: []Action{
		{Kind: MoveAside, Target: EtcdDataDir, Args: []string{"/var/lib/rancher/k3s-server-db.x/db"}},
		{Kind: RemoveTree, Target: DataDir},
	}}
	a := &Applier{Root: root, Run: &host.FakeRunner{}, Log: zaptest.NewLogger(t)}
	if _, err := a.Apply(t.Context(), p, func(string) {}); err == nil {
		t.Fatal("apply with a failed move: no error")
	}
	if b, err := os.ReadFile(root.Path(EtcdDataDir + "/etcd/member/wal/0.wal")); err != nil || string(b) != "wal" {
		t.Errorf("etcd's data after a failed move: %q, %v", b, err)
	}

	// Moved, it is kept root-only, and the data directory goes.
	p.Actions[0].Args = []string{"/var/lib/rancher/k3s-server-db.20261203T040506Z"}
	if _, err := a.Apply(t.Context(), p, func(string) {}); err != nil {
		t.Fatal(err)
	}
	aside := root.Path("/var/lib/rancher/k3s-server-db.20261203T040506Z")
	if fi, err := os.Stat(aside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("aside: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(aside + "/etcd/member/wal/0.wal"); err != nil || string(b) != "wal" {
		t.Errorf("etcd's data aside: %q, %v", b, err)
	}
	if _, err := os.Lstat(root.Path(DataDir)); !os.IsNotExist(err) {
		t.Errorf("%s still there (%v)", DataDir, err)
	}
}
