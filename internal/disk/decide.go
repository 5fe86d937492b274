package disk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Named refusals a caller (and `nodeagent doctor`) can branch on.
var (
	// ErrHasSignature: the device holds something (a filesystem of another
	// type, a partition table, LVM/RAID/LUKS metadata) that nodeagent will
	// neither mount as the configured type nor format over.
	ErrHasSignature = errors.New("device is not blank")
	// ErrBlankNotFormatted: the device is blank and format is "never".
	ErrBlankNotFormatted = errors.New("device is blank and format is never")
	// ErrOtherMounted: a different device is mounted on the mount point.
	ErrOtherMounted = errors.New("another device is mounted on the mount point")
	// ErrMountedElsewhere: the device is mounted on another directory.
	ErrMountedElsewhere = errors.New("device is mounted elsewhere")
	// ErrNotMounted: the mount did not take effect according to mountinfo.
	ErrNotMounted = errors.New("device is not mounted on the mount point")
	// ErrUnreadable: blkid could not read the selected device.
	ErrUnreadable = errors.New("device cannot be probed")
)

// Action is what Decide wants done.
type Action int

// The actions, in increasing order of change.
const (
	// ActNone: the device is already mounted on the mount point.
	ActNone Action = iota
	// ActMount mounts the device, which has the configured filesystem.
	ActMount
	// ActFormatMount formats a blank device, then mounts it (if-blank only).
	ActFormatMount
)

func (a Action) String() string {
	return [...]string{"nothing", "mount", "format and mount"}[a]
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	Device Device
}

// Decide is the pure core of the disk step: from the devices and mounts
// observed it picks the one change to make, or refuses with a named error.
// It never chooses to format a device that has any signature.
func Decide(d config.Disk, devs []Device, mounts []Mount) (Decision, error) {
	top, mounted := At(mounts, d.MountPoint)
	dev, err := Select(devs, d.Selector)
	if err != nil {
		if mounted && errors.Is(err, ErrNotFound) {
			return Decision{}, fmt.Errorf("%w (%s from %s is mounted on %s)", err, top.FSType, top.Source, d.MountPoint)
		}
		return Decision{}, err
	}
	if mounted {
		if top.IsDevice(dev) {
			return Decision{Action: ActNone, Device: dev}, nil
		}
		return Decision{}, fmt.Errorf("%w: %s (%s) is on %s, wanted %s", ErrOtherMounted,
			top.Source, top.MajMin, d.MountPoint, dev.Path)
	}
	if dev.ProbeError != "" {
		return Decision{}, fmt.Errorf("%w: %s", ErrUnreadable, dev.ProbeError)
	}
	if where := MountsOf(mounts, dev); len(where) > 0 {
		return Decision{}, fmt.Errorf("%w: %s is mounted on %s, wanted %s", ErrMountedElsewhere,
			dev.Path, strings.Join(where, ", "), d.MountPoint)
	}
	sig := dev.Signature()
	switch {
	case sig == d.FSType:
		return Decision{Action: ActMount, Device: dev}, nil
	case sig != "":
		return Decision{}, fmt.Errorf("%w: %s has %s, wanted %s; nodeagent formats only blank devices",
			ErrHasSignature, dev.Path, sig, d.FSType)
	case d.Format == config.FormatIfBlank:
		return Decision{Action: ActFormatMount, Device: dev}, nil
	}
	return Decision{}, fmt.Errorf("%w: %s has no filesystem; create one or set format: if-blank",
		ErrBlankNotFormatted, dev.Path)
}

// MkfsArgs is the command that creates fsType on dev with the selector's
// label and UUID, so the new filesystem matches the selector that chose it.
func MkfsArgs(d config.Disk, dev string) []string {
	s := d.Selector
	args := []string{"mkfs." + d.FSType}
	switch d.FSType {
	case "ext4", "ext3", "btrfs":
		args = appendIf(args, s.Label, "-L", s.Label)
		args = appendIf(args, s.UUID, "-U", s.UUID)
	case "xfs":
		args = appendIf(args, s.Label, "-L", s.Label)
		args = appendIf(args, s.UUID, "-m", "uuid="+s.UUID)
	case "vfat":
		args = appendIf(args, s.Label, "-n", s.Label)
		args = appendIf(args, s.UUID, "-i", strings.ReplaceAll(s.UUID, "-", ""))
	case "exfat":
		args = appendIf(args, s.Label, "-L", s.Label)
	}
	return append(args, dev)
}

func appendIf(args []string, cond string, more ...string) []string {
	if cond == "" {
		return args
	}
	return append(args, more...)
}
