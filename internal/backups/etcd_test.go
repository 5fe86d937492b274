package backups

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
	"github.com/nodeagent/nodeagent/test/harness/mountns"
)

func TestMain(m *testing.M) { mountns.Main(m) }

// fixture is a k3s snapshot directory and an HDD mount point under one
// temporary directory.
type fixture struct {
	snapshots, mountPoint string
	etcd                  Etcd
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{snapshots: filepath.Join(base, "snapshots"), mountPoint: filepath.Join(base, "mnt", "hd1")}
	for _, d := range []string{f.snapshots, f.mountPoint} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.etcd = Etcd{SnapshotDir: f.snapshots, MountPoint: f.mountPoint, Dir: filepath.Join(f.mountPoint, "backups"), Retention: 2}
	return f
}

// mount puts a tmpfs (the HDD) on the mount point; it needs root in the
// private mount namespace.
func (f *fixture) mount(t testing.TB) {
	t.Helper()
	if !mountns.Inside() {
		msg := "needs root and unshare(1): the test mounts a tmpfs in a private mount namespace"
		if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err := unix.Mount("tmpfs", f.mountPoint, "tmpfs", 0, "size=256m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(f.mountPoint, unix.MNT_DETACH) })
}

func (f *fixture) snapshot(t *testing.T, name string, size int) []byte {
	t.Helper()
	data := bytes.Repeat([]byte(name[:1]), size)
	if err := os.WriteFile(filepath.Join(f.snapshots, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	list, err := ListSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

// Without the HDD mounted nothing is written under the mount point: not
// the backups directory, not a copy.
func TestSyncWritesNothingWithoutTheDisk(t *testing.T) {
	f := newFixture(t)
	f.snapshot(t, "etcd-snapshot-pi5-1764633600", 100)
	res, err := f.etcd.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if !res.NotMounted || len(res.Copied) > 0 {
		t.Fatalf("got %+v, want NotMounted and no copy", res)
	}
	entries, err := os.ReadDir(f.mountPoint)
	if err != nil || len(entries) != 0 {
		t.Fatalf("the empty mount point holds %v (%v)", entries, err)
	}
}

func TestSyncCopiesAndPrunes(t *testing.T) {
	f := newFixture(t)
	f.mount(t)
	want := f.snapshot(t, "etcd-snapshot-pi5-1764633600", 4096)
	f.snapshot(t, "on-demand-pi5-1764640000", 10)
	f.snapshot(t, "etcd-snapshot-pi5-1764662400.part", 7) // being written by etcd
	f.snapshot(t, "notes.txt", 3)
	res, err := f.etcd.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{"on-demand-pi5-1764640000", "etcd-snapshot-pi5-1764633600"}; !slices.Equal(res.Copied, got) {
		t.Fatalf("copied %v, want %v (newest first, no .part, no other file)", res.Copied, got)
	}
	copied := filepath.Join(f.etcd.CopiesDir(), "etcd-snapshot-pi5-1764633600")
	got, err := os.ReadFile(copied)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copy differs (%v)", err)
	}
	for path, mode := range map[string]os.FileMode{copied: 0o600, f.etcd.CopiesDir(): 0o700 | os.ModeDir} {
		if st, err := os.Stat(path); err != nil || st.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, st.Mode(), err, mode)
		}
	}

	// A second pass copies nothing; a new scheduled snapshot beyond
	// retention (2) prunes the oldest copy of its kind, and only that one.
	if res, err = f.etcd.Sync(); err != nil || len(res.Copied)+len(res.Pruned) != 0 {
		t.Fatalf("second pass: %+v, %v", res, err)
	}
	f.snapshot(t, "etcd-snapshot-pi5-1764676800", 20)
	f.snapshot(t, "etcd-snapshot-pi5-1764720000", 20)
	if res, err = f.etcd.Sync(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Pruned, []string{"etcd-snapshot-pi5-1764633600"}) {
		t.Fatalf("pruned %v", res.Pruned)
	}
	if got := names(t, f.etcd.CopiesDir()); !slices.Equal(got, []string{"etcd-snapshot-pi5-1764720000", "etcd-snapshot-pi5-1764676800", "on-demand-pi5-1764640000"}) {
		t.Fatalf("copies %v", got)
	}
	// The local snapshot beyond retention (k3s has not pruned it yet) is
	// not copied again.
	if res, err = f.etcd.Sync(); err != nil || len(res.Copied) != 0 {
		t.Fatalf("third pass: %+v, %v", res, err)
	}
	// A file of the owner's in the backups directory is never touched.
	mine := filepath.Join(f.etcd.Dir, "etcd-snapshot-mine-1000000000")
	if err := os.WriteFile(mine, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = f.etcd.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("the owner's file: %v", err)
	}
}

// Unmounted after copies were made: the copies are on the HDD, and the
// SD card under the mount point gets nothing.
func TestSyncAfterTheDiskWentAway(t *testing.T) {
	f := newFixture(t)
	f.mount(t)
	f.snapshot(t, "etcd-snapshot-pi5-1764633600", 100)
	if _, err := f.etcd.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(f.mountPoint, 0); err != nil {
		t.Fatal(err)
	}
	f.snapshot(t, "etcd-snapshot-pi5-1764676800", 100)
	res, err := f.etcd.Sync()
	if err != nil || !res.NotMounted {
		t.Fatalf("got %+v, %v; want NotMounted", res, err)
	}
	if entries, _ := os.ReadDir(f.mountPoint); len(entries) != 0 {
		t.Fatalf("the SD card under the mount point holds %v", entries)
	}
}

// BenchmarkSyncCopy copies one 32 MiB snapshot (a homelab's etcd is tens
// of MiB) to the "HDD" (a tmpfs, so the figure is nodeagent's cost, not the
// disk's) and compares it with a plain synced copy of the same file to the
// same file system in the same run.
func BenchmarkSyncCopy(b *testing.B) {
	const size = 32 << 20
	f := newFixture(b)
	f.mount(b)
	f.etcd.Retention = 1
	data := bytes.Repeat([]byte{0x5a}, size)
	var syncTime, plainTime time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("etcd-snapshot-pi5-%d", 1764633600+i)
		if err := os.WriteFile(filepath.Join(f.snapshots, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := f.etcd.Sync()
		syncTime += time.Since(start)
		if err != nil || len(res.Copied) != 1 {
			b.Fatalf("sync: %+v, %v", res, err)
		}
		start = time.Now()
		if err := plainCopy(filepath.Join(f.snapshots, name), filepath.Join(f.mountPoint, "plain")); err != nil {
			b.Fatal(err)
		}
		plainTime += time.Since(start)
	}
	perCopy := syncTime / time.Duration(b.N)
	ratio := float64(syncTime) / float64(plainTime)
	b.ReportMetric(float64(perCopy.Microseconds())/1000, "ms/copy")
	b.ReportMetric(ratio, "x-plain")
	benchfig.Report(b, benchfig.Figure{Name: "etcd snapshot copy to the HDD (32 MiB)",
		Value:    fmt.Sprintf("%.1f ms (%.0f MB/s)", float64(perCopy.Microseconds())/1000, float64(size)/perCopy.Seconds()/1e6),
		Target:   "≤ 2× a plain synced copy",
		Baseline: fmt.Sprintf("plain copy %.1f ms, ratio %.2f", float64((plainTime/time.Duration(b.N)).Microseconds())/1000, ratio),
		Met:      benchfig.Met(ratio <= 2)})
}

// plainCopy is the baseline: read, write, fsync.
func plainCopy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}
