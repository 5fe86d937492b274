package disk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
		{"defaults", nil, "nosuid,nodev,nofail,x-systemd.device-timeout=90s"},
		{"configured first, no duplicates", []string{"noatime", "nofail", "nodev"}, "noatime,nofail,nodev,nosuid,x-systemd.device-timeout=90s"},
		{"own timeout wins", []string{"x-systemd.device-timeout=5min"}, "x-systemd.device-timeout=5min,nosuid,nodev,nofail"},
		{"suid and dev opt out", []string{"suid", "dev"}, "suid,dev,nofail,x-systemd.device-timeout=90s"},
		{"defaults does not opt out", []string{"defaults"}, "defaults,nosuid,nodev,nofail,x-systemd.device-timeout=90s"},
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
	if got := strings.Join(MountOptions(d), ","); got != "noatime,nosuid,nodev" {
		t.Errorf("MountOptions = %q, want noatime,nosuid,nodev (systemd-only options dropped)", got)
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

// Cluster-file strings must not reach the mount unit as anything but the
// value of their own key: validation refuses each hostile disk, naming the
// file, line and field; what the unit would have been is shown otherwise.
func TestUnitCannotBeInjected(t *testing.T) {
	tests := map[string]string{
		"newline in an option":         `options: ["noatime\nWhat=/dev/sdb"]`,
		"newline in the mount point":   `mountPoint: "/mnt/hd1\nOptions=suid,dev"`,
		"comma joins a second option":  `options: ["noatime,suid"]`,
		"option outside the list":      `options: [user]`,
		"specifier in the mount point": `mountPoint: "/mnt/h%d1"`,
		"continuation line":            `mountPoint: "/mnt/hd1\\"`,
	}
	for name, line := range tests {
		t.Run(name, func(t *testing.T) {
			data := hostileDisk(t, line)
			f, err := config.Parse("cluster.yaml", data)
			if err != nil {
				if !strings.Contains(err.Error(), "cluster.yaml:") || !strings.Contains(err.Error(), "nodes[2].disks[0].") {
					t.Errorf("error does not name the file, line and field: %v", err)
				}
				return
			}
			n, _ := f.Node("pi5")
			unit := string(UnitContent(n.Disks[0], "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"))
			t.Errorf("validation accepted %s; [Mount] keys %v (want Options Type What Where) in:\n%s",
				line, mountKeys(unit), unit)
		})
	}
}

// hostileDisk is the built-in homelab with one line of pi5's disk replaced
// by line (the key before the colon says which).
func hostileDisk(t *testing.T, line string) []byte {
	t.Helper()
	key, _, _ := strings.Cut(line, ":")
	var out []string
	replaced := false
	for _, l := range strings.Split(string(config.DefaultYAML()), "\n") {
		trimmed := strings.TrimPrefix(strings.TrimSpace(l), "- ")
		if !replaced && strings.HasPrefix(trimmed, key+":") {
			l = l[:strings.Index(l, key)] + line
			replaced = true
		}
		out = append(out, l)
	}
	if !replaced {
		t.Fatalf("no %s line in the built-in homelab", key)
	}
	return []byte(strings.Join(out, "\n"))
}

// mountKeys lists the sorted keys of the unit's [Mount] section, reading
// the file as systemd does: a line ending in \ continues on the next.
func mountKeys(unit string) []string {
	unit = strings.ReplaceAll(unit, "\\\n", " ")
	var keys []string
	section := ""
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "["):
			section = l
		case section == "[Mount]" && strings.Contains(l, "="):
			k, _, _ := strings.Cut(l, "=")
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
