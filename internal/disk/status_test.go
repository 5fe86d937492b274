package disk

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

func TestCheckMounted(t *testing.T) {
	d := config.Disk{MountPoint: "/mnt/hd1", Selector: config.DiskSelector{Label: "hd1"},
		Labels: map[string]string{"storage": "true"}}
	hd := Device{Name: "sda1", Path: "/dev/sda1", MajMin: "8:1", Label: "hd1"}
	other := Device{Name: "sdb1", Path: "/dev/sdb1", MajMin: "8:17", Label: "usb"}
	on := func(majMin, src string) []Mount {
		return []Mount{{MajMin: majMin, Source: src, MountPoint: "/mnt/hd1"}}
	}
	tests := []struct {
		name   string
		devs   []Device
		mounts []Mount
		want   Status
		labels map[string]string
	}{
		{name: "mounted", devs: []Device{hd, other}, mounts: on("8:1", "/dev/sda1"),
			want: Status{MountPoint: "/mnt/hd1", Mounted: true, Device: hd}, labels: map[string]string{"storage": "true"}},
		{name: "not mounted", devs: []Device{hd},
			want: Status{MountPoint: "/mnt/hd1", Problem: "nothing is mounted on /mnt/hd1"}},
		{name: "another device", devs: []Device{hd, other}, mounts: on("8:17", "/dev/sdb1"),
			want: Status{MountPoint: "/mnt/hd1", Device: other, Problem: "/dev/sdb1 on /mnt/hd1 does not match label=hd1"}},
		{name: "vanished while mounted", devs: []Device{other}, mounts: on("8:1", "/dev/sda1"),
			want: Status{MountPoint: "/mnt/hd1", Vanished: true, Device: Device{Path: "/dev/sda1", MajMin: "8:1"},
				Problem: "/dev/sda1 (8:1) is mounted on /mnt/hd1 but its block device is gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckMounted(d, tt.devs, tt.mounts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckMounted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.labels, Labels(d, got)); diff != "" {
				t.Errorf("Labels (-want +got):\n%s", diff)
			}
		})
	}
}

// The disk was pulled while mounted: the kernel keeps the mount entry, sysfs
// drops the device. Mounted reports it without running blkid on anything.
func TestManagerMountedVanished(t *testing.T) {
	root := writeSysfs(t, sysBlock{name: "mmcblk0", majMin: "179:0", size: "100"})
	must(t, os.MkdirAll(root.Path("/proc/self"), 0o755))
	must(t, os.WriteFile(root.Path("/proc/self/mountinfo"), []byte(mountinfoFixture), 0o644))
	run := &host.FakeRunner{}
	m := NewManager(root, run, nil, host.RealClock{}, zaptest.NewLogger(t))
	d := config.Disk{MountPoint: "/mnt/hd1", Selector: config.DiskSelector{Label: "hd1"}, Labels: map[string]string{"storage": "true"}}
	st, err := m.Mounted(context.Background(), d)
	must(t, err)
	if !st.Vanished || st.Mounted || Labels(d, st) != nil {
		t.Errorf("Mounted = %+v, want vanished, not mounted, no labels", st)
	}
	if len(run.Calls) != 0 {
		t.Errorf("ran %q", run.Calls)
	}
}
