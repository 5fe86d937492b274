package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

var _ Checker = diskStep{}

// doctor warns when pi5's disk is selected by a label that a USB stick
// carries; the host is a fixture sysfs tree with a USB HDD (not removable)
// and, in some cases, a removable stick, both labelled hd1.
func TestDiskDoctorWarnsOnLabelMatchingRemovable(t *testing.T) {
	tests := []struct {
		name     string
		selector config.DiskSelector
		stick    bool
		want     string // "" for no check at all
		ok       bool
	}{
		{"label, stick plugged in", config.DiskSelector{Label: "hd1"}, true,
			`label "hd1" matches /dev/sda1 (on the USB bus), /dev/sdb1 (removable, on the USB bus)`, false},
		{"label, HDD on USB only", config.DiskSelector{Label: "hd1"}, false, `label "hd1" matches /dev/sda1 (on the USB bus)`, false},
		{"label matching nothing", config.DiskSelector{Label: "other"}, true, `label "other" matches no removable or USB device now`, true},
		{"uuid", config.DiskSelector{UUID: "u-hdd"}, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, run := piBlockDevices(t, tt.stick)
			f, err := config.Default()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := f.Node("pi5")
			n.Disks[0].Selector = tt.selector
			a := New(Deps{Log: zaptest.NewLogger(t), File: f, Node: n, Root: root, Runner: run, Clock: host.RealClock{}})
			t.Cleanup(a.Close)
			checks := diskStep{a}.Checks(context.Background())
			if tt.want == "" {
				if len(checks) != 0 {
					t.Errorf("checks = %+v, want none", checks)
				}
				return
			}
			if len(checks) != 1 || checks[0].Name != "disk-selector /mnt/hd1" {
				t.Fatalf("checks = %+v, want one disk-selector /mnt/hd1", checks)
			}
			c := checks[0]
			if !strings.HasPrefix(c.Message, tt.want) || c.OK != tt.ok || c.Severity != "warning" {
				t.Errorf("check = %+v, want ok=%v warning with message %q", c, tt.ok, tt.want)
			}
		})
	}
}

// piBlockDevices lays out sysfs like a Pi's with a USB HDD (sda) and, with
// stick, a removable USB stick (sdb), both with a partition labelled hd1.
func piBlockDevices(t *testing.T, stick bool) (host.Root, *host.FakeRunner) {
	t.Helper()
	root := t.TempDir()
	usb := filepath.Join(root, "sys/devices/platform/scb/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block")
	run := &host.FakeRunner{Responses: map[string]string{
		"blkid -p -o export /dev/sda":  "PTTYPE=gpt\n",
		"blkid -p -o export /dev/sda1": "LABEL=hd1\nUUID=u-hdd\nTYPE=ext4\n",
	}}
	disks := map[string]string{"sda": "0"}
	if stick {
		disks["sdb"] = "1"
		run.Responses["blkid -p -o export /dev/sdb"] = "PTTYPE=dos\n"
		run.Responses["blkid -p -o export /dev/sdb1"] = "LABEL=hd1\nUUID=u-stick\nTYPE=vfat\n"
	}
	class := filepath.Join(root, "sys/class/block")
	mkdir(t, class)
	for name, removable := range disks {
		dir := filepath.Join(usb, name)
		part := filepath.Join(dir, name+"1")
		mkdir(t, part)
		attrs := map[string]string{
			filepath.Join(dir, "dev"): "8:0", filepath.Join(dir, "size"): "1000", filepath.Join(dir, "removable"): removable,
			filepath.Join(part, "dev"): "8:1", filepath.Join(part, "size"): "900", filepath.Join(part, "partition"): "1",
		}
		for p, v := range attrs {
			if err := os.WriteFile(p, []byte(v+"\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		for link, target := range map[string]string{name: dir, name + "1": part} {
			if err := os.Symlink(target, filepath.Join(class, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return host.NewRoot(root), run
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
