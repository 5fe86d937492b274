package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
)

func TestParseServerFlags(t *testing.T) {
	for _, c := range []struct {
		args    []string
		reset   bool
		path    string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--cluster-reset"}, reset: true},
		{args: []string{"--cluster-reset", "--cluster-reset-restore-path=/s"}, reset: true, path: "/s"},
		{args: []string{"--cluster-reset-restore-path", "/s", "--cluster-reset"}, reset: true, path: "/s"},
		{args: []string{"--cluster-reset-restore-path=/s"}, wantErr: "invalid flag use; --cluster-reset required with --cluster-reset-restore-path"},
		{args: []string{"--cluster-reset", "--node-name=x"}, wantErr: "command-line flags other than --cluster-reset and --cluster-reset-restore-path are not supported; use config.yaml"},
		{args: []string{"--cluster-reset-restore-path"}, wantErr: "command-line flags other than --cluster-reset and --cluster-reset-restore-path are not supported; use config.yaml"},
	} {
		reset, path, err := parseServerFlags(c.args)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%v: error %v, want %q", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil || reset != c.reset || path != c.path {
			t.Errorf("%v: %v %q %v, want %v %q", c.args, reset, path, err, c.reset, c.path)
		}
	}
}

func TestParseSnapshotArgs(t *testing.T) {
	for _, c := range []struct {
		args     []string
		op, name string
		ok       bool
	}{
		{[]string{"save"}, "save", "on-demand", true},
		{[]string{"save", "--name", "pre-upgrade"}, "save", "pre-upgrade", true},
		{[]string{"save", "--name=x"}, "save", "x", true},
		{[]string{"ls"}, "list", "", true},
		{[]string{"list"}, "list", "", true},
		{[]string{"l"}, "list", "", true},
		{[]string{"save", "--name="}, "", "", false},
		{[]string{"save", "--dir", "/x"}, "", "", false},
		{[]string{"save", "extra"}, "", "", false},
		{[]string{"ls", "--name", "x"}, "", "", false},
		{[]string{"prune"}, "", "", false},
		{nil, "", "", false},
	} {
		op, name, err := parseSnapshotArgs(c.args)
		if (err == nil) != c.ok || op != c.op || name != c.name {
			t.Errorf("%v: %q %q %v, want %q %q ok=%v", c.args, op, name, err, c.op, c.name, c.ok)
		}
	}
}

func TestSnapshotRetention(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	files := []string{
		"on-demand-a-100", "on-demand-b-300", "on-demand-a-200", "sub/on-demand-c-50",
		"etcd-snapshot-a-10", "on-demand-a-400.zip",
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := snapshotRetention(zap.NewNop(), 2, "on-demand", dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if diff := cmp.Diff([]string{"on-demand-a-100", "on-demand-a-200", "on-demand-c-50"}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	var left []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, fi.Name())
		}
		return err
	})
	slices.Sort(left)
	if diff := cmp.Diff([]string{"etcd-snapshot-a-10", "on-demand-a-400.zip", "on-demand-b-300"}, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if deleted, err := snapshotRetention(zap.NewNop(), 0, "etcd-snapshot", dir); err != nil || deleted != nil {
		t.Errorf("retention 0: deleted %v, %v; want nothing", deleted, err)
	}
}

func TestSnapshotConfigDefaults(t *testing.T) {
	c := config{NodeIP: "10.0.0.1", NodeName: "n", Token: "t", ClusterInit: true}
	if err := c.complete(); err != nil {
		t.Fatal(err)
	}
	if *c.EtcdSnapshotRetention != 5 || c.EtcdSnapshotCron != "0 */12 * * *" || c.EtcdSnapshotName != "etcd-snapshot" {
		t.Errorf("defaults: retention %d, cron %q, name %q", *c.EtcdSnapshotRetention, c.EtcdSnapshotCron, c.EtcdSnapshotName)
	}
}

// TestSnapshotDir: the default dir is created, a configured etcd-snapshot-dir
// (below K3S_STANDIN_ROOT) must exist, as k3s's snapshotDir.
func TestSnapshotDir(t *testing.T) {
	p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
	sn := &snapshotter{s: &server{cfg: &config{}, paths: p}}
	dir, err := sn.snapshotDir(true)
	if err != nil || dir != p.snapshots {
		t.Fatalf("default dir: %q, %v; want %q created", dir, err, p.snapshots)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("default dir: %v, %v; want mode 0700", fi, err)
	}
	sn.s.cfg.EtcdSnapshotDir = "/srv/snaps"
	if dir, err := sn.snapshotDir(true); err == nil {
		t.Errorf("missing etcd-snapshot-dir: %q, want an error", dir)
	}
	if err := os.MkdirAll(p.rooted("/srv/snaps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if dir, err := sn.snapshotDir(true); err != nil || dir != p.rooted("/srv/snaps") {
		t.Errorf("existing etcd-snapshot-dir: %q, %v", dir, err)
	}
}
