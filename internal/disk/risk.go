package disk

import (
	"context"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// LabelRisk is a device that a label selector matches and that anyone could
// plug in: with the intended disk away, one like it labelled the same would
// be mounted in its place.
type LabelRisk struct {
	Device Device
	Why    string // "removable", "on the USB bus" or both
}

// SelectsByLabel reports whether s picks its device by label without a
// UUID or PARTUUID, which a stick cannot copy by accident.
func SelectsByLabel(s config.DiskSelector) bool {
	return s.Label != "" && s.UUID == "" && s.PARTUUID == ""
}

// LabelRisks lists the devices among devs that d's label selector matches
// and that are removable or on a USB bus. It is pure, for doctor.
func LabelRisks(d config.Disk, devs []Device) []LabelRisk {
	if !SelectsByLabel(d.Selector) {
		return nil
	}
	var out []LabelRisk
	for _, dev := range devs {
		if !matches(dev, d.Selector) || (!dev.Removable && !dev.USB) {
			continue
		}
		var why []string
		if dev.Removable {
			why = append(why, "removable")
		}
		if dev.USB {
			why = append(why, "on the USB bus")
		}
		out = append(out, LabelRisk{Device: dev, Why: strings.Join(why, ", ")})
	}
	return out
}

// LabelRisks scans the block devices and returns those d's label selector
// matches that anyone could plug in.
func (m *Manager) LabelRisks(ctx context.Context, d config.Disk) ([]LabelRisk, error) {
	devs, err := Scan(ctx, m.root, m.run)
	if err != nil {
		return nil, err
	}
	return LabelRisks(d, devs), nil
}
