package disk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const mountinfoFixture = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw
40 27 8:1 / /mnt/hd1 rw,noatime shared:20 - ext4 /dev/sda1 rw
41 27 8:17 / /mnt/my\040disk rw - vfat /dev/sdb1 rw
42 40 7:0 / /mnt/hd1 rw master:3 - xfs /dev/loop0 rw
`

func TestParseMountInfo(t *testing.T) {
	got, err := ParseMountInfo(mountinfoFixture)
	must(t, err)
	want := []Mount{
		{MajMin: "0:21", MountPoint: "/proc", FSType: "proc", Source: "proc"},
		{MajMin: "179:2", MountPoint: "/", FSType: "ext4", Source: "/dev/mmcblk0p2"},
		{MajMin: "8:1", MountPoint: "/mnt/hd1", FSType: "ext4", Source: "/dev/sda1"},
		{MajMin: "8:17", MountPoint: "/mnt/my disk", FSType: "vfat", Source: "/dev/sdb1"},
		{MajMin: "7:0", MountPoint: "/mnt/hd1", FSType: "xfs", Source: "/dev/loop0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMountInfo (-want +got):\n%s", diff)
	}
	// The mount on top is what a writer under /mnt/hd1 reaches.
	if top, _ := At(got, "/mnt/hd1"); top.MajMin != "7:0" {
		t.Errorf("At(/mnt/hd1) = %+v, want the stacked 7:0", top)
	}
	if _, ok := At(got, "/mnt/hd2"); ok {
		t.Error("At(/mnt/hd2) found a mount")
	}
}

func TestParseMountInfoMalformed(t *testing.T) {
	if _, err := ParseMountInfo("22 27 0:21 / /proc rw\n"); err == nil {
		t.Error("a line without the - separator parsed")
	}
}

func TestIsDevice(t *testing.T) {
	dev := Device{Path: "/dev/sda1", MajMin: "8:1"}
	tests := []struct {
		m    Mount
		want bool
	}{
		{Mount{MajMin: "8:1", Source: "/dev/sda1"}, true},
		{Mount{MajMin: "0:45", Source: "/dev/sda1"}, true}, // btrfs anonymous device number
		{Mount{MajMin: "8:17", Source: "/dev/sdb1"}, false},
	}
	for _, tt := range tests {
		if got := tt.m.IsDevice(dev); got != tt.want {
			t.Errorf("%+v.IsDevice(sda1) = %v, want %v", tt.m, got, tt.want)
		}
	}
}
