package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// blkidType is what the real blkid sees on dev now.
func blkidType(t *testing.T, dev string) Device {
	t.Helper()
	d := Device{Path: dev}
	m, _, _ := realManager(t)
	must(t, probe(context.Background(), m.root, m.run, &d))
	return Device{Type: d.Type, UUID: d.UUID, PTType: d.PTType}
}

// Each case must fail if its safety check is removed: the device would be
// formatted (its signature changes) or mounted (mountinfo changes) or the
// mount point written to.
func TestRealRefusals(t *testing.T) {
	needRealDisks(t, "mkfs.vfat", "sfdisk", "partx")
	tests := []struct {
		name    string
		setup   func(t *testing.T) (dev string, sel config.DiskSelector)
		format  string
		wantErr error
	}{
		{name: "vfat refused by if-blank", format: config.FormatIfBlank, wantErr: ErrHasSignature,
			setup: func(t *testing.T) (string, config.DiskSelector) {
				dev := attach(t, newImage(t, "32M"))
				sh(t, "mkfs.vfat", "-i", "1234ABCD", "-n", "OTHER", dev)
				return dev, config.DiskSelector{UUID: "1234-ABCD"}
			}},
		{name: "partition table refused by if-blank", format: config.FormatIfBlank, wantErr: ErrHasSignature,
			setup: func(t *testing.T) (string, config.DiskSelector) {
				// A partition holding its own partition table (a disk image
				// written to a partition) is selected by its PARTUUID.
				partuuid := newUUID(t)
				_, part := gptLoop(t, partuuid)
				writePT(t, part)
				return part, config.DiskSelector{PARTUUID: partuuid}
			}},
		{name: "blank left alone by never", format: config.FormatNever, wantErr: ErrBlankNotFormatted,
			setup: func(t *testing.T) (string, config.DiskSelector) {
				partuuid := newUUID(t)
				_, part := gptLoop(t, partuuid)
				return part, config.DiskSelector{PARTUUID: partuuid}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, sel := tt.setup(t)
			before := blkidType(t, dev)
			mp := filepath.Join(t.TempDir(), "hd1")
			m, run, units := realManager(t)
			_, err := m.Ensure(context.Background(), testDisk(mp, sel, tt.format))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Ensure error = %v, want %v", err, tt.wantErr)
			}
			t.Logf("refused: %v", err)
			if diff := cmp.Diff(before, blkidType(t, dev)); diff != "" {
				t.Errorf("device changed (-before +after):\n%s", diff)
			}
			if got := append(run.named("mkfs.ext4"), run.named("mount")...); len(got) > 0 {
				t.Errorf("ran %q", got)
			}
			if mountedAt(t, mp) != "" || units.writes != 0 {
				t.Errorf("mounted or installed a unit after a refusal")
			}
			assertEmptyDir(t, mp)
		})
	}
}

// writePT puts a DOS partition table on dev (sfdisk reads its script on stdin).
func writePT(t *testing.T, dev string) {
	t.Helper()
	cmdRun(t, "label: dos\n,8MiB\n", "sfdisk", "-q", "--no-reread", dev)
}

func TestRealIfBlankFormatsBlankDevice(t *testing.T) {
	needRealDisks(t, "sfdisk", "partx")
	partuuid := newUUID(t)
	_, part := gptLoop(t, partuuid)
	mp := filepath.Join(t.TempDir(), "hd1")
	d := testDisk(mp, config.DiskSelector{PARTUUID: partuuid}, config.FormatIfBlank)
	m, run, units := realManager(t)
	res, err := m.Ensure(context.Background(), d)
	must(t, err)
	if !res.Formatted || !res.Mounted {
		t.Errorf("Ensure = %+v, want formatted and mounted", res)
	}
	got := blkidType(t, part)
	if got.Type != "ext4" || got.UUID == "" {
		t.Errorf("after if-blank the partition has %+v, want ext4 with a UUID", got)
	}
	if n := len(run.named("mkfs.ext4")); n != 1 {
		t.Errorf("mkfs.ext4 ran %d times, want 1", n)
	}
	if mountedAt(t, mp) != majMin(t, part) {
		t.Errorf("%s not mounted on %s", part, mp)
	}
	if unit := string(units.files[UnitName(mp)]); unit != string(UnitContent(d, got.UUID)) {
		t.Errorf("unit does not name the new filesystem UUID %s:\n%s", got.UUID, unit)
	}
	// Formatted once: the second run sees ext4 and formats nothing.
	_, err = m.Ensure(context.Background(), d)
	must(t, err)
	if n := len(run.named("mkfs.ext4")); n != 1 {
		t.Errorf("mkfs.ext4 ran %d times after the second Ensure, want 1", n)
	}
}

func TestRealAbsentDeviceWritesNothing(t *testing.T) {
	needRealDisks(t)
	mp := filepath.Join(t.TempDir(), "hd1")
	m, run, units := realManager(t)
	_, err := m.Ensure(context.Background(), testDisk(mp, config.DiskSelector{UUID: newUUID(t)}, config.FormatIfBlank))
	if !IsNotFound(err) {
		t.Fatalf("Ensure error = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(mp); !os.IsNotExist(err) {
		t.Errorf("mount point created for a missing disk (stat: %v)", err)
	}
	for _, c := range run.calls {
		if !strings.HasPrefix(c, "blkid ") {
			t.Errorf("ran %q for a missing disk; only blkid probes are allowed", c)
		}
	}
	if units.writes != 0 {
		t.Error("installed a unit for a missing disk")
	}
}

func TestRealOtherDeviceOnMountPoint(t *testing.T) {
	needRealDisks(t)
	uuid, otherUUID := newUUID(t), newUUID(t)
	dev := ext4Loop(t, "hd1", uuid)
	other := ext4Loop(t, "usb", otherUUID)
	mp := filepath.Join(t.TempDir(), "hd1")
	must(t, os.MkdirAll(mp, 0o755))
	sh(t, "mount", other, mp)
	elsewhere := filepath.Join(t.TempDir(), "media")
	must(t, os.MkdirAll(elsewhere, 0o755))

	tests := []struct {
		name    string
		prepare func(t *testing.T)
		wantErr error
	}{
		{name: "another device on the mount point", wantErr: ErrOtherMounted, prepare: func(*testing.T) {}},
		{name: "device mounted elsewhere", wantErr: ErrMountedElsewhere, prepare: func(t *testing.T) {
			sh(t, "mount", dev, elsewhere)
			t.Cleanup(func() { sh(t, "umount", elsewhere) })
			sh(t, "umount", mp) // mount point free, so only "elsewhere" can stop it
			t.Cleanup(func() { sh(t, "mount", other, mp) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare(t)
			before := mountTable(t)
			m, run, units := realManager(t)
			_, err := m.Ensure(context.Background(), testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Ensure error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(before, mountTable(t)); diff != "" {
				t.Errorf("mount table changed (-before +after):\n%s", diff)
			}
			if len(run.named("mount")) > 0 || units.writes != 0 {
				t.Errorf("ran %q / wrote %d units after a refusal", run.named("mount"), units.writes)
			}
			if _, err := os.Stat(filepath.Join(mp, "Library")); err == nil {
				t.Error("created Library on the wrong device")
			}
		})
	}
}

// A mount that "succeeds" but leaves nothing in mountinfo (a stale mount
// helper, a mount in another namespace) must not lead to writes on the
// directory underneath, which is the SD card.
func TestRealNoWritesWithoutMountinfoEntry(t *testing.T) {
	needRealDisks(t)
	uuid := newUUID(t)
	ext4Loop(t, "hd1", uuid)
	mp := filepath.Join(t.TempDir(), "hd1")
	m, run, _ := realManager(t)
	run.drop = "mount"
	_, err := m.Ensure(context.Background(), testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever))
	if !errors.Is(err, ErrNotMounted) {
		t.Fatalf("Ensure error = %v, want ErrNotMounted", err)
	}
	assertEmptyDir(t, mp)
}

func mountTable(t *testing.T) []Mount {
	t.Helper()
	mounts, err := ReadMounts(host.NewRoot("/"))
	must(t, err)
	return mounts
}

// format probes again right before mkfs: a signature that appeared after
// the scan (someone ran mkfs meanwhile) still stops it.
func TestRealFormatReprobes(t *testing.T) {
	needRealDisks(t, "mkfs.vfat")
	dev := attach(t, newImage(t, "32M"))
	stale := Device{Name: filepath.Base(dev), Path: dev, MajMin: majMin(t, dev)} // scanned while blank
	sh(t, "mkfs.vfat", "-n", "LATE", dev)
	m, run, _ := realManager(t)
	d := testDisk(filepath.Join(t.TempDir(), "hd1"), config.DiskSelector{Label: "hd1"}, config.FormatIfBlank)
	if _, err := m.format(context.Background(), d, stale); !errors.Is(err, ErrHasSignature) {
		t.Fatalf("format error = %v, want ErrHasSignature", err)
	}
	if got := blkidType(t, dev).Type; got != "vfat" || len(run.named("mkfs.ext4")) > 0 {
		t.Errorf("device now %q after %q, want vfat untouched", got, run.named("mkfs.ext4"))
	}
}
