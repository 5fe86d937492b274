package disk

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestDecide(t *testing.T) {
	hd := Device{Name: "sda1", Path: "/dev/sda1", MajMin: "8:1", Type: "ext4", UUID: "u-1", Label: "hd1"}
	blank := Device{Name: "sdb", Path: "/dev/sdb", MajMin: "8:16", Serial: "WX2"}
	withType := func(d Device, typ, pt string) Device { d.Type, d.PTType = typ, pt; return d }
	mnt := func(majMin, src, dir string) Mount {
		return Mount{MajMin: majMin, Source: src, MountPoint: dir, FSType: "ext4"}
	}
	byLabel := config.Disk{MountPoint: "/mnt/hd1", Selector: config.DiskSelector{Label: "hd1"}, FSType: "ext4", Format: config.FormatNever}
	bySerial := func(format string) config.Disk {
		return config.Disk{MountPoint: "/mnt/hd1", Selector: config.DiskSelector{Serial: "WX2"}, FSType: "ext4", Format: format}
	}
	tests := []struct {
		name    string
		disk    config.Disk
		devs    []Device
		mounts  []Mount
		want    Action
		wantErr error
	}{
		{name: "not mounted: mount", disk: byLabel, devs: []Device{hd}, want: ActMount},
		{name: "already mounted there", disk: byLabel, devs: []Device{hd}, mounts: []Mount{mnt("8:1", "/dev/sda1", "/mnt/hd1")}, want: ActNone},
		{name: "missing", disk: byLabel, wantErr: ErrNotFound},
		{name: "missing while something else is mounted there", disk: byLabel,
			mounts: []Mount{mnt("8:17", "/dev/sdb1", "/mnt/hd1")}, wantErr: ErrNotFound},
		{name: "another device on the mount point", disk: byLabel, devs: []Device{hd},
			mounts: []Mount{mnt("8:17", "/dev/sdb1", "/mnt/hd1")}, wantErr: ErrOtherMounted},
		{name: "mounted elsewhere", disk: byLabel, devs: []Device{hd},
			mounts: []Mount{mnt("8:1", "/dev/sda1", "/media/usb")}, wantErr: ErrMountedElsewhere},
		{name: "blank, if-blank: format", disk: bySerial(config.FormatIfBlank), devs: []Device{blank}, want: ActFormatMount},
		{name: "blank, never: refuse", disk: bySerial(config.FormatNever), devs: []Device{blank}, wantErr: ErrBlankNotFormatted},
		{name: "xfs, if-blank: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "xfs", "")}, wantErr: ErrHasSignature},
		{name: "xfs, never: refuse", disk: bySerial(config.FormatNever), devs: []Device{withType(blank, "xfs", "")}, wantErr: ErrHasSignature},
		{name: "partition table: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "", "gpt")}, wantErr: ErrHasSignature},
		{name: "LVM: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "LVM2_member", "")}, wantErr: ErrHasSignature},
		{name: "RAID: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "linux_raid_member", "")}, wantErr: ErrHasSignature},
		{name: "LUKS: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "crypto_LUKS", "")}, wantErr: ErrHasSignature},
		{name: "ext4 next to a partition table: refuse", disk: bySerial(config.FormatIfBlank), devs: []Device{withType(blank, "ext4", "dos")}, wantErr: ErrHasSignature},
		{name: "ambivalent: refuse", disk: bySerial(config.FormatIfBlank),
			devs: []Device{func() Device { d := withType(blank, "ext4", ""); d.Ambivalent = true; return d }()}, wantErr: ErrHasSignature},
		{name: "unreadable: refuse", disk: bySerial(config.FormatIfBlank),
			devs: []Device{func() Device { d := blank; d.ProbeError = "blkid: error: Input/output error"; return d }()}, wantErr: ErrUnreadable},
		{name: "two matches", disk: byLabel, devs: []Device{hd, withType(Device{Name: "sdc", Label: "hd1"}, "ext4", "")}, wantErr: ErrAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(tt.disk, tt.devs, tt.mounts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decide error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got.Action); err == nil && diff != "" {
				t.Errorf("action (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMkfsArgs(t *testing.T) {
	sel := config.DiskSelector{Label: "hd1", UUID: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}
	tests := map[string][]string{
		"ext4":  {"mkfs.ext4", "-L", "hd1", "-U", sel.UUID, "/dev/sdb"},
		"xfs":   {"mkfs.xfs", "-L", "hd1", "-m", "uuid=" + sel.UUID, "/dev/sdb"},
		"exfat": {"mkfs.exfat", "-L", "hd1", "/dev/sdb"},
	}
	for fs, want := range tests {
		got := MkfsArgs(config.Disk{FSType: fs, Selector: sel}, "/dev/sdb")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MkfsArgs(%s) (-want +got):\n%s", fs, diff)
		}
	}
	// No -F anywhere: mkfs's own "contains a filesystem" check stays on.
	got := MkfsArgs(config.Disk{FSType: "ext4", Selector: config.DiskSelector{Serial: "x"}}, "/dev/sdb")
	if diff := cmp.Diff([]string{"mkfs.ext4", "/dev/sdb"}, got); diff != "" {
		t.Errorf("MkfsArgs without label/uuid (-want +got):\n%s", diff)
	}
}
