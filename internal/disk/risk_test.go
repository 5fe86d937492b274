package disk

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// On a fixture sysfs tree laid out like a Pi's: the SD card, a USB HDD
// (not removable, on the USB bus) and a USB stick (removable) that both
// carry the label hd1.
func TestLabelRisks(t *testing.T) {
	root := writeSysfs(t,
		sysBlock{name: "mmcblk0", majMin: "179:0", size: "62521344"},
		sysBlock{name: "mmcblk0p2", parent: "mmcblk0", majMin: "179:2", size: "61000000"},
		sysBlock{name: "sda", majMin: "8:0", size: "1953525168", usb: true},
		sysBlock{name: "sda1", parent: "sda", majMin: "8:1", size: "1953523120"},
		sysBlock{name: "sdb", majMin: "8:16", size: "30000000", usb: true, removable: true},
		sysBlock{name: "sdb1", parent: "sdb", majMin: "8:17", size: "29000000"},
	)
	run := &host.FakeRunner{Responses: map[string]string{
		"blkid -p -o export /dev/mmcblk0":   "PTTYPE=dos\n",
		"blkid -p -o export /dev/mmcblk0p2": "LABEL=rootfs\nUUID=r-1\nTYPE=ext4\n",
		"blkid -p -o export /dev/sda":       "PTTYPE=gpt\n",
		"blkid -p -o export /dev/sda1":      "LABEL=hd1\nUUID=u-hdd\nTYPE=ext4\n",
		"blkid -p -o export /dev/sdb":       "PTTYPE=dos\n",
		"blkid -p -o export /dev/sdb1":      "LABEL=hd1\nUUID=u-stick\nTYPE=vfat\n",
	}}
	devs, err := Scan(context.Background(), root, run)
	must(t, err)
	tests := []struct {
		name string
		sel  config.DiskSelector
		want map[string]string // device -> why
	}{
		{"label matches the HDD and the stick", config.DiskSelector{Label: "hd1"},
			map[string]string{"/dev/sda1": "on the USB bus", "/dev/sdb1": "removable, on the USB bus"}},
		{"uuid pins the HDD", config.DiskSelector{UUID: "u-hdd"}, map[string]string{}},
		{"label plus uuid pins it too", config.DiskSelector{Label: "hd1", UUID: "u-hdd"}, map[string]string{}},
		{"label of the SD card", config.DiskSelector{Label: "rootfs"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, r := range LabelRisks(config.Disk{MountPoint: "/mnt/hd1", Selector: tt.sel}, devs) {
				got[r.Device.Path] = r.Why
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LabelRisks (-want +got):\n%s", diff)
			}
		})
	}
}
