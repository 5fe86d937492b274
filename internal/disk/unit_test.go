package disk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

func TestUnitName(t *testing.T) {
	tests := map[string]string{
		"/mnt/hd1":         "mnt-hd1.mount",
		"/mnt/my disk/a-b": `mnt-my\x20disk-a\x2db.mount`,
		"/.hidden/x":       `\x2ehidden-x.mount`,
		"/srv//data/":      "srv-data.mount",
		"/":                "-.mount",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := UnitName(in); got != want {
				t.Errorf("UnitName(%q) = %q, want %q", in, got, want)
			}
			// Cross-check against systemd itself when it is installed.
			if _, err := exec.LookPath("systemd-escape"); err != nil {
				return
			}
			out, err := exec.CommandContext(context.Background(), "systemd-escape", "--path", "--suffix=mount", in).Output()
			must(t, err)
			if sys := strings.TrimSpace(string(out)); sys != UnitName(in) {
				t.Errorf("systemd-escape says %q, UnitName says %q", sys, UnitName(in))
			}
		})
	}
}

// pi5Disk is the /mnt/hd1 disk of the built-in homelab.
func pi5Disk(t *testing.T) (config.Node, config.Disk) {
	t.Helper()
	f, err := config.Default()
	must(t, err)
	n, ok := f.Node("pi5")
	if !ok || len(n.Disks) != 1 {
		t.Fatalf("built-in pi5 node has no single disk: %+v", n)
	}
	return n, n.Disks[0]
}

func TestUnitContentGolden(t *testing.T) {
	_, d := pi5Disk(t)
	got := UnitContent(d, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
	golden.Check(t, "mnt-hd1.mount", got)
}

func TestUnitOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []string
		want string
	}{
		{"defaults", nil, "nofail,x-systemd.device-timeout=90s"},
		{"configured first, no duplicates", []string{"noatime", "nofail"}, "noatime,nofail,x-systemd.device-timeout=90s"},
		{"own timeout wins", []string{"x-systemd.device-timeout=5min"}, "x-systemd.device-timeout=5min,nofail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := config.Disk{Options: tt.opts, DeviceTimeout: config.Duration{Duration: 89500 * time.Millisecond}}
			if got := strings.Join(unitOptions(d), ","); got != tt.want {
				t.Errorf("unitOptions = %q, want %q", got, tt.want)
			}
		})
	}
	d := config.Disk{Options: []string{"noatime", "nofail", "x-systemd.device-timeout=5s"}}
	if got := strings.Join(MountOptions(d), ","); got != "noatime" {
		t.Errorf("MountOptions = %q, want noatime (systemd-only options dropped)", got)
	}
}

// systemd itself must accept the unit, including the name it derives from
// Where= (a mismatch makes systemd refuse the unit).
func TestUnitVerifiesWithSystemd(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatal("needs systemd-analyze (Debian: systemd)")
		}
		t.Skip("needs systemd-analyze (Debian: systemd)")
	}
	_, d := pi5Disk(t)
	for _, mp := range []string{"/mnt/hd1", "/srv/photo-library", "/mnt/my disk"} {
		t.Run(mp, func(t *testing.T) {
			d := d
			d.MountPoint = mp
			dir := t.TempDir()
			name := UnitName(mp)
			must(t, os.WriteFile(filepath.Join(dir, name), UnitContent(d, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"), 0o644))
			cmd := exec.CommandContext(context.Background(), "systemd-analyze", "verify", "--man=no", "./"+name)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
			}
		})
	}
}
