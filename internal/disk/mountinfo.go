package disk

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	MajMin     string `json:"majMin"`
	MountPoint string `json:"mountPoint"`
	FSType     string `json:"fsType"`
	Source     string `json:"source"`
}

// ReadMounts parses the mount table of nodeagent's own mount namespace; it
// is the kernel's word on what is mounted where, unlike "the directory
// exists" or /etc/fstab.
func ReadMounts(root host.Root) ([]Mount, error) {
	b, err := os.ReadFile(root.Path("/proc/self/mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	return ParseMountInfo(string(b))
}

// ParseMountInfo parses mountinfo text (proc(5)): "36 35 98:0 /mnt1
// /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func ParseMountInfo(text string) ([]Mount, error) {
	var out []Mount
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		sep := -1
		for j := 6; j < len(f); j++ {
			if f[j] == "-" {
				sep = j
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %d: malformed %q", i+1, line)
		}
		out = append(out, Mount{
			MajMin:     f[2],
			MountPoint: unescapeOctal(f[4]),
			FSType:     f[sep+1],
			Source:     unescapeOctal(f[sep+2]),
		})
	}
	return out, nil
}

// unescapeOctal decodes the \040-style escapes the kernel uses for space,
// tab, newline and backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// At returns the mount that is visible at dir: the last one mounted there,
// since later mounts stack on top of earlier ones.
func At(mounts []Mount, dir string) (Mount, bool) {
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].MountPoint == dir {
			return mounts[i], true
		}
	}
	return Mount{}, false
}

// IsDevice reports whether m is a mount of d. The device number is the
// primary key; btrfs reports an anonymous 0:N number, so the source path
// counts too.
func (m Mount) IsDevice(d Device) bool {
	return m.MajMin == d.MajMin || (m.Source != "" && m.Source == d.Path)
}

// MountsOf returns the mount points where d is mounted.
func MountsOf(mounts []Mount, d Device) []string {
	var out []string
	for _, m := range mounts {
		if m.IsDevice(d) {
			out = append(out, m.MountPoint)
		}
	}
	return out
}
