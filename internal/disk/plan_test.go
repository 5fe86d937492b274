package disk

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

func TestPlanGolden(t *testing.T) {
	n, _ := pi5Disk(t)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(Plan(n)))
	golden.Check(t, "plan-pi5.json", buf.Bytes())
}

func TestPlanWithObservedDevice(t *testing.T) {
	n, d := pi5Disk(t)
	devs := []Device{{Name: "sda1", Path: "/dev/sda1", Type: "ext4", Label: "hd1", UUID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}}
	st := PlanWith(n, devs)
	var unit, mount string
	for _, a := range st.Actions {
		if a.File != nil {
			unit = a.File.Content
		}
		if len(a.Commands) > 0 && strings.HasPrefix(a.Commands[0], "mount ") {
			mount = a.Commands[0]
		}
	}
	if diff := cmp.Diff(string(UnitContent(d, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")), unit); diff != "" {
		t.Errorf("planned unit (-want +got):\n%s", diff)
	}
	if want := "mount -t ext4 -o noatime,nosuid,nodev /dev/sda1 /mnt/hd1"; mount != want {
		t.Errorf("planned mount = %q, want %q", mount, want)
	}
}

func TestPlanNoDisks(t *testing.T) {
	st := Plan(config.Node{Name: "pi4-1"})
	if len(st.Actions) != 0 || st.Summary != "no data disks on this node" {
		t.Errorf("Plan without disks = %+v", st)
	}
}

// The live plan follows Decide: no mkfs unless it would format, no mount
// when mounted, and the refusal Ensure would meet.
func TestPlanObservedFollowsDecide(t *testing.T) {
	blank := Device{Name: "sdb", Path: "/dev/sdb", MajMin: "8:16", Serial: "WX2"}
	hd := blank
	hd.Type, hd.UUID = "ext4", "u-1"
	xfs := blank
	xfs.Type = "xfs"
	disk := config.Disk{MountPoint: "/mnt/hd1", Selector: config.DiskSelector{Serial: "WX2"}, FSType: "ext4", Format: config.FormatIfBlank}
	mounted := []Mount{{MajMin: "8:16", Source: "/dev/sdb", MountPoint: "/mnt/hd1", FSType: "ext4"}}
	tests := []struct {
		name   string
		devs   []Device
		mounts []Mount
		want   []string // action descriptions, by prefix
		note   string
	}{
		{"blank: format and mount", []Device{blank}, nil, []string{"format ", "install and enable", "mount now"}, ""},
		{"ext4: mount only", []Device{hd}, nil, []string{"install and enable", "mount now"}, ""},
		{"mounted: unit only", []Device{hd}, mounted, []string{"install and enable"}, "/dev/sdb already mounted there"},
		{"xfs: refused", []Device{xfs}, nil, nil, "would refuse: device is not blank"},
		{"absent: waits", nil, nil, nil, "no device with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := PlanObserved(config.Node{Name: "pi5", Disks: []config.Disk{disk}}, tt.devs, tt.mounts)
			var got []string
			for i, a := range st.Actions {
				if i < len(tt.want) && strings.HasPrefix(a.Description, tt.want[i]) {
					got = append(got, tt.want[i])
				} else {
					got = append(got, a.Description)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if tt.note != "" && !strings.Contains(strings.Join(st.Notes, "\n"), tt.note) {
				t.Errorf("notes lack %q: %v", tt.note, st.Notes)
			}
		})
	}
}
