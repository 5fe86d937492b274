package disk

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

// UnitDir is where nodeagent's mount units live.
const UnitDir = "/etc/systemd/system"

// UnitName is the mount unit systemd expects for dir, escaped like
// `systemd-escape --path --suffix=mount` (systemd.unit(5): a mount unit must
// be named after the path it mounts).
func UnitName(dir string) string {
	trimmed := strings.Trim(dir, "/")
	if trimmed == "" {
		return "-.mount"
	}
	var b strings.Builder
	for i := 0; i < len(trimmed); i++ {
		c := trimmed[i]
		switch {
		case c == '/':
			if trimmed[i-1] != '/' { // collapse "//"
				b.WriteByte('-')
			}
		case c == '.' && b.Len() == 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case isUnitNameChar(c):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String() + ".mount"
}

func isUnitNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '_' || c == '.'
}

// ByUUID is the persistent udev path of a filesystem UUID. It survives the
// sda/sdb renaming that happens when USB disks enumerate in another order.
func ByUUID(uuid string) string { return "/dev/disk/by-uuid/" + uuid }

// UnitContent renders the mount unit for d, mounting the filesystem uuid.
//
// nofail plus WantedBy= (not RequiredBy=) keeps an unplugged HDD from
// dropping the Pi into emergency mode; the device timeout bounds how long
// boot waits for a slow USB disk to spin up.
func UnitContent(d config.Disk, uuid string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by nodeagent for the disk %s; edits are replaced.\n", describeSelector(d.Selector))
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=nodeagent data disk at %s\n", d.MountPoint)
	b.WriteString("\n[Mount]\n")
	fmt.Fprintf(&b, "What=%s\n", ByUUID(uuid))
	fmt.Fprintf(&b, "Where=%s\n", d.MountPoint)
	fmt.Fprintf(&b, "Type=%s\n", d.FSType)
	fmt.Fprintf(&b, "Options=%s\n", strings.Join(unitOptions(d), ","))
	b.WriteString("\n[Install]\nWantedBy=local-fs.target\n")
	return []byte(b.String())
}

// unitOptions are the configured options plus nosuid, nodev, nofail and the
// device timeout, unless the configuration sets them itself.
func unitOptions(d config.Disk) []string {
	opts := dedupe(append(withSafeDefaults(d.Options), "nofail"))
	for _, o := range d.Options {
		if strings.HasPrefix(o, "x-systemd.device-timeout=") {
			return opts
		}
	}
	if d.DeviceTimeout.Duration > 0 {
		opts = append(opts, "x-systemd.device-timeout="+systemdSeconds(d.DeviceTimeout.Duration))
	}
	return opts
}

// MountOptions are the options for mounting now with mount(8): those of the
// unit minus the ones only systemd understands.
func MountOptions(d config.Disk) []string {
	var out []string
	for _, o := range withSafeDefaults(d.Options) {
		if o == "nofail" || strings.HasPrefix(o, "x-systemd.") {
			continue
		}
		out = append(out, o)
	}
	return dedupe(out)
}

// withSafeDefaults appends nosuid and nodev unless the options say suid or
// dev (or already say nosuid or nodev): a data disk holds photos and
// backups, and a setuid binary or device node on it, or on a stick that
// carries its label, must not count on the host. "defaults" does not opt
// out; mount(8) lets the later nosuid,nodev win over it.
func withSafeDefaults(opts []string) []string {
	out := append([]string{}, opts...)
	for _, pair := range [][2]string{{"suid", "nosuid"}, {"dev", "nodev"}} {
		if !slices.Contains(opts, pair[0]) && !slices.Contains(opts, pair[1]) {
			out = append(out, pair[1])
		}
	}
	return out
}

// systemdSeconds writes whole seconds, rounded up, which every systemd
// version parses (Go's "1m30s" is not a systemd time span).
func systemdSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(math.Ceil(d.Seconds())))
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
