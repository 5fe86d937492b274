package disk

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Status says whether a disk is usable right now.
type Status struct {
	MountPoint string `json:"mountPoint"`
	// Mounted is true only when the device the selector picks is the one
	// mounted on the mount point.
	Mounted bool   `json:"mounted"`
	Device  Device `json:"device,omitempty"`
	// Vanished: a mount entry is present but its block device is gone (a
	// USB disk pulled while mounted); the filesystem is dead.
	Vanished bool `json:"vanished,omitempty"`
	// Problem explains why Mounted is false.
	Problem string `json:"problem,omitempty"`
}

// Mounted checks, without changing anything, whether the intended device is
// mounted on d's mount point. It probes only the mounted device, so the
// labels step can call it often.
func (m *Manager) Mounted(ctx context.Context, d config.Disk) (Status, error) {
	mounts, err := ReadMounts(m.root)
	if err != nil {
		return Status{}, err
	}
	devs, err := listBlock(m.root)
	if err != nil {
		return Status{}, err
	}
	st := CheckMounted(d, devs, mounts)
	if st.Device.Name != "" && !st.Vanished {
		if err := probe(ctx, m.root, m.run, &st.Device); err != nil {
			return Status{}, err
		}
		st = CheckMounted(d, []Device{st.Device}, mounts)
	}
	if st.Vanished {
		m.log.Warn("disk vanished while mounted", zap.String("mountPoint", d.MountPoint),
			zap.String("source", st.Device.Path), zap.String("majMin", st.Device.MajMin))
	}
	return st, nil
}

// CheckMounted is the pure part of Mounted. devs come from sysfs; a device
// not probed yet can match only a serial or model selector, which is why
// Mounted probes the mounted device and checks again.
func CheckMounted(d config.Disk, devs []Device, mounts []Mount) Status {
	st := Status{MountPoint: d.MountPoint}
	top, ok := At(mounts, d.MountPoint)
	if !ok {
		st.Problem = "nothing is mounted on " + d.MountPoint
		return st
	}
	for _, dev := range devs {
		if !top.IsDevice(dev) {
			continue
		}
		st.Device = dev
		if matches(dev, d.Selector) {
			st.Mounted = true
			return st
		}
		st.Problem = fmt.Sprintf("%s on %s does not match %s", dev.Path, d.MountPoint, describeSelector(d.Selector))
		return st
	}
	st.Vanished = true
	st.Device = Device{Path: top.Source, MajMin: top.MajMin}
	st.Problem = fmt.Sprintf("%s (%s) is mounted on %s but its block device is gone", top.Source, top.MajMin, d.MountPoint)
	return st
}

// Labels are the node labels a disk contributes: its configured labels while
// it is mounted, none otherwise.
func Labels(d config.Disk, st Status) map[string]string {
	if !st.Mounted || len(d.Labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(d.Labels))
	for k, v := range d.Labels {
		out[k] = v
	}
	return out
}

// NodeStatus checks every disk of a node; the labels step merges Labels of
// each.
func (m *Manager) NodeStatus(ctx context.Context, n config.Node) ([]Status, error) {
	var out []Status
	for _, d := range n.Disks {
		st, err := m.Mounted(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("checking disk %s: %w", d.MountPoint, err)
		}
		out = append(out, st)
	}
	return out, nil
}
