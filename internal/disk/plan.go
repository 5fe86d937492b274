package disk

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// StepName names the disk step in plans and logs.
const StepName = "disk"

// Plan describes what the disk step does on n, without looking at the host:
// the unit names the filesystem UUID of the selector, or a placeholder when
// the selector does not give one (the real UUID is read when the device is
// found; see PlanWith).
func Plan(n config.Node) plan.Step { return PlanWith(n, nil) }

// PlanNode is what Ensure would do now, decided by Decide on the devices
// and mounts found; it only reads (sysfs, `blkid -p`, mountinfo).
func (m *Manager) PlanNode(ctx context.Context, n config.Node) (plan.Step, error) {
	if len(n.Disks) == 0 {
		return Plan(n), nil
	}
	devs, err := Scan(ctx, m.root, m.run)
	if err != nil {
		return plan.Step{}, fmt.Errorf("planning disks: %w", err)
	}
	mounts, err := ReadMounts(m.root)
	if err != nil {
		return plan.Step{}, fmt.Errorf("planning disks: %w", err)
	}
	return PlanObserved(n, devs, mounts), nil
}

// PlanObserved narrows each disk's plan to Decide's decision: nothing but
// the unit and directories when the device is mounted already, no mkfs
// unless it would format, and the refusal Ensure would meet.
func PlanObserved(n config.Node, devs []Device, mounts []Mount) plan.Step {
	st := PlanWith(n, devs)
	st.Actions = nil
	for _, d := range n.Disks {
		dec, err := Decide(d, devs, mounts)
		acts := diskActions(d, devs)
		switch {
		case IsNotFound(err):
			st.Notes = append(st.Notes, fmt.Sprintf("%s: no device with %s yet: waits for it, and mounts it once it appears",
				d.MountPoint, describeSelector(d.Selector)))
			continue
		case err != nil:
			st.Notes = append(st.Notes, fmt.Sprintf("%s: would refuse: %v", d.MountPoint, err))
			continue
		}
		if dec.Action != ActFormatMount && d.Format == config.FormatIfBlank {
			acts = acts[1:] // no mkfs
		}
		if dec.Action == ActNone {
			st.Notes = append(st.Notes, fmt.Sprintf("%s: %s already mounted there", d.MountPoint, dec.Device.Path))
			acts = append(acts[:1], acts[2:]...) // keep the unit, drop the mount
		}
		st.Actions = append(st.Actions, acts...)
	}
	return st
}

// PlanWith is Plan with the devices observed on the host, so the unit shows
// the UUID of the device that would be mounted.
func PlanWith(n config.Node, devs []Device) plan.Step {
	st := plan.Step{Name: StepName}
	if len(n.Disks) == 0 {
		st.Summary = "no data disks on this node"
		return st
	}
	var mps []string
	for _, d := range n.Disks {
		mps = append(mps, d.MountPoint)
		st.Actions = append(st.Actions, diskActions(d, devs)...)
		st.Notes = append(st.Notes, diskNotes(d)...)
	}
	st.Summary = "find, mount and lay out " + strings.Join(mps, ", ")
	return st
}

func diskActions(d config.Disk, devs []Device) []plan.Action {
	uuid, dev := planDevice(d, devs)
	unit := UnitName(d.MountPoint)
	var acts []plan.Action
	if d.Format == config.FormatIfBlank {
		acts = append(acts, plan.Action{
			Description: "format " + dev + " only if blkid finds no signature on it",
			Commands:    []string{host.QuoteArgv("mkfs."+d.FSType, MkfsArgs(d, dev)[1:])},
		})
	}
	acts = append(acts,
		plan.Action{
			Description: "install and enable the mount unit " + unit,
			File: &plan.File{Path: path.Join(UnitDir, unit), Mode: "0644",
				Content: string(UnitContent(d, uuid))},
			Commands: []string{"systemctl enable " + unit},
		},
		plan.Action{
			Description: "mount now unless already mounted there",
			Commands:    []string{host.QuoteArgv("mount", MountArgs(d, dev)[1:])},
		})
	for _, dir := range d.Directories {
		mode, _ := strconv.ParseUint(dir.Mode, 8, 32)
		acts = append(acts, plan.Action{Description: fmt.Sprintf(
			"keep directory %s owned by %d:%d with mode %04o (only while the disk is mounted)",
			path.Join(d.MountPoint, dir.Path), dir.Owner, dir.Group, fs.FileMode(mode))})
	}
	return acts
}

// planDevice returns the UUID and device path to show: those of the
// observed match, else what the selector fixes, else placeholders.
func planDevice(d config.Disk, devs []Device) (uuid, dev string) {
	if found, err := Select(devs, d.Selector); err == nil && found.UUID != "" {
		return found.UUID, found.Path
	}
	uuid = d.Selector.UUID
	if uuid == "" {
		uuid = "<uuid of " + describeSelector(d.Selector) + ">"
	}
	return uuid, "<device-with-" + describeSelector(d.Selector) + ">"
}

func diskNotes(d config.Disk) []string {
	notes := []string{
		fmt.Sprintf("waits up to %s for a device with %s (uevents, plus a rescan)", d.DeviceTimeout.Duration, describeSelector(d.Selector)),
		"refuses a device with another filesystem, a partition table, LVM, RAID or LUKS signature",
		"writes nothing under " + d.MountPoint + " unless the device is mounted there per /proc/self/mountinfo",
	}
	if d.Format == config.FormatNever {
		notes = append(notes, "format: never — a blank device is reported, not formatted")
	}
	if len(d.Labels) > 0 {
		var kv []string
		for _, k := range config.SortedKeys(d.Labels) {
			kv = append(kv, k+"="+d.Labels[k])
		}
		notes = append(notes, "node labels "+strings.Join(kv, ", ")+" while "+d.MountPoint+" is mounted")
	}
	return notes
}
