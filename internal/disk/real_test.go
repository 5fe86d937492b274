package disk

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestRealScanFindsLoopByUUIDAndLabel(t *testing.T) {
	needRealDisks(t)
	uuidA, uuidB := newUUID(t), newUUID(t)
	labelA := "a" + uuidA[:8]
	devA := ext4Loop(t, labelA, uuidA)
	devB := ext4Loop(t, "b"+uuidB[:8], uuidB)
	m, _, _ := realManager(t)
	devs, err := Scan(context.Background(), m.root, m.run)
	must(t, err)
	tests := []struct {
		name string
		sel  config.DiskSelector
		want string
	}{
		{"uuid", config.DiskSelector{UUID: uuidB}, devB},
		{"label", config.DiskSelector{Label: labelA}, devA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(devs, tt.sel)
			must(t, err)
			if diff := cmp.Diff(tt.want, got.Path); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRealEnsureMountsAndConverges(t *testing.T) {
	needRealDisks(t)
	uuid := newUUID(t)
	dev := ext4Loop(t, "hd1", uuid)
	mp := filepath.Join(t.TempDir(), "mnt", "hd1")
	d := testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever)
	m, run, units := realManager(t)
	ctx := context.Background()

	res, err := m.Ensure(ctx, d)
	must(t, err)
	if !res.Mounted || res.Dirs != 2 {
		t.Errorf("first Ensure = %+v, want mounted with 2 directory changes", res)
	}
	if got, want := mountedAt(t, mp), majMin(t, dev); got != want {
		t.Fatalf("mountinfo shows %q on %s, want %s", got, mp, want)
	}
	checkDir(t, filepath.Join(mp, "Library"), 1000, 1000, 0o750)
	checkDir(t, filepath.Join(mp, "backups"), 0, 0, 0o700)
	if diff := cmp.Diff(string(UnitContent(d, uuid)), string(units.files[UnitName(mp)])); diff != "" {
		t.Errorf("installed unit (-want +got):\n%s", diff)
	}
	if !units.enabled[UnitName(mp)] {
		t.Error("unit not enabled")
	}

	// Second run: no mount, no unit write, no directory touched (ctime
	// would move on any chown/chmod).
	before := ctime(t, filepath.Join(mp, "Library"))
	writes, mounts := units.writes, len(run.named("mount"))
	res, err = m.Ensure(ctx, d)
	must(t, err)
	if diff := cmp.Diff(Result{Device: res.Device, Action: "nothing"}, res); diff != "" {
		t.Errorf("second Ensure (-want +got):\n%s", diff)
	}
	if n := len(run.named("mount")); n != mounts {
		t.Errorf("second Ensure ran mount: %q", run.named("mount"))
	}
	if units.writes != writes {
		t.Errorf("second Ensure changed units (%d writes, want %d)", units.writes, writes)
	}
	if after := ctime(t, filepath.Join(mp, "Library")); after != before {
		t.Error("second Ensure touched Library")
	}

	// Drift is fixed, nothing is deleted.
	must(t, os.Chmod(filepath.Join(mp, "Library"), 0o777))
	must(t, os.WriteFile(filepath.Join(mp, "Library", "photo.jpg"), []byte("x"), 0o644))
	res, err = m.Ensure(ctx, d)
	must(t, err)
	if res.Dirs != 1 {
		t.Errorf("Ensure after drift fixed %d directories, want 1", res.Dirs)
	}
	checkDir(t, filepath.Join(mp, "Library"), 1000, 1000, 0o750)
	if _, err := os.Stat(filepath.Join(mp, "Library", "photo.jpg")); err != nil {
		t.Errorf("user data lost: %v", err)
	}
}

func TestRealMountedAndVanished(t *testing.T) {
	needRealDisks(t)
	uuid := newUUID(t)
	dev := ext4Loop(t, "hd1", uuid)
	mp := filepath.Join(t.TempDir(), "hd1")
	d := testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever)
	m, _, _ := realManager(t)
	ctx := context.Background()
	_, err := m.Ensure(ctx, d)
	must(t, err)
	st, err := m.Mounted(ctx, d)
	must(t, err)
	if !st.Mounted || st.Device.Path != dev {
		t.Fatalf("Mounted = %+v, want mounted from %s", st, dev)
	}
	if diff := cmp.Diff(map[string]string{"storage": "true"}, Labels(d, st)); diff != "" {
		t.Errorf("Labels while mounted (-want +got):\n%s", diff)
	}

	// Pull the disk: lazy unmount plus detach, as a USB unplug ends up.
	sh(t, "umount", "-l", mp)
	sh(t, "losetup", "-d", dev)
	st, err = m.Mounted(ctx, d)
	must(t, err)
	if st.Mounted || st.Problem == "" {
		t.Errorf("Mounted after detach = %+v, want not mounted with a problem", st)
	}
	if got := Labels(d, st); got != nil {
		t.Errorf("Labels after detach = %v, want none", got)
	}
	// And Ensure now finds nothing and writes nothing.
	if _, err := m.Ensure(ctx, d); !IsNotFound(err) {
		t.Errorf("Ensure after detach = %v, want ErrNotFound", err)
	}
	assertEmptyDir(t, mp)
}

func checkDir(t *testing.T, path string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	if diff := cmp.Diff([]any{uid, gid, mode}, []any{int(st.Uid), int(st.Gid), fileMode(fi)}); diff != "" {
		t.Errorf("%s uid/gid/mode (-want +got):\n%s", path, diff)
	}
}

func ctime(t *testing.T, path string) time.Time {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Lstat(path, &st))
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
}

// assertEmptyDir passes when dir is missing or empty.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%s has %d entries, want it empty", dir, len(entries))
	}
}

// The data disk is mounted nosuid,nodev unless its options say suid or dev:
// a setuid binary or a device node on the disk, or on a stick carrying its
// label, must not count on the host. statfs is the kernel's word on it.
func TestRealMountIsNosuidNodevByDefault(t *testing.T) {
	needRealDisks(t)
	tests := []struct {
		name   string
		opts   []string
		nosuid bool
		nodev  bool
	}{
		{"default", []string{"noatime"}, true, true},
		{"explicit suid and dev", []string{"noatime", "suid", "dev"}, false, false},
		{"explicit dev only", []string{"dev"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uuid := newUUID(t)
			ext4Loop(t, "hd1", uuid)
			mp := filepath.Join(t.TempDir(), "mnt", "hd1")
			d := testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever)
			d.Options = tt.opts
			m, _, _ := realManager(t)
			_, err := m.Ensure(context.Background(), d)
			must(t, err)
			var st unix.Statfs_t
			must(t, unix.Statfs(mp, &st))
			got := []bool{st.Flags&unix.ST_NOSUID != 0, st.Flags&unix.ST_NODEV != 0}
			if diff := cmp.Diff([]bool{tt.nosuid, tt.nodev}, got); diff != "" {
				t.Errorf("mounted with options %v: [nosuid nodev] (-want +got):\n%s", tt.opts, diff)
			}
		})
	}
}
