package disk

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestSelect(t *testing.T) {
	devs := []Device{
		{Name: "mmcblk0", PTType: "dos"},
		{Name: "mmcblk0p2", Parent: "mmcblk0", Type: "ext4", UUID: "r-1", Label: "rootfs"},
		{Name: "sda", Serial: "WX1", Model: "Elements", PTType: "gpt"},
		{Name: "sda1", Parent: "sda", Serial: "WX1", Model: "Elements", Type: "ext4", UUID: "aaaa-1", Label: "hd1", PARTUUID: "p-1"},
		{Name: "sdb", Serial: "WX2", Model: "Elements", Type: "ext4", UUID: "bbbb-2", Label: "hd1"},
	}
	tests := []struct {
		name    string
		sel     config.DiskSelector
		want    string
		wantErr error
	}{
		{name: "uuid", sel: config.DiskSelector{UUID: "aaaa-1"}, want: "sda1"},
		{name: "uuid case-insensitive", sel: config.DiskSelector{UUID: "AAAA-1"}, want: "sda1"},
		{name: "partuuid", sel: config.DiskSelector{PARTUUID: "p-1"}, want: "sda1"},
		{name: "label plus serial", sel: config.DiskSelector{Label: "hd1", Serial: "WX2"}, want: "sdb"},
		{name: "serial prefers the partition over its disk", sel: config.DiskSelector{Serial: "WX1"}, want: "sda1"},
		{name: "label on two disks", sel: config.DiskSelector{Label: "hd1"}, wantErr: ErrAmbiguous},
		{name: "model on two disks", sel: config.DiskSelector{Model: "Elements"}, wantErr: ErrAmbiguous},
		{name: "no match", sel: config.DiskSelector{UUID: "cccc"}, wantErr: ErrNotFound},
		{name: "all fields must match", sel: config.DiskSelector{UUID: "aaaa-1", Label: "other"}, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(devs, tt.sel)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Select error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got.Name); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}
