package disk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// ErrNotFound means no block device matches the selector (yet): the disk may
// be unplugged or still spinning up.
var ErrNotFound = errors.New("no block device matches")

// ErrAmbiguous means more than one device matches the selector.
var ErrAmbiguous = errors.New("several block devices match")

// Select returns the one device that matches every set field of s. A whole
// disk whose partitions also match (a serial or model selector) is dropped in
// favour of them, since a partitioned disk is a container, not a filesystem.
func Select(devs []Device, s config.DiskSelector) (Device, error) {
	var hits []Device
	for _, d := range devs {
		if matches(d, s) {
			hits = append(hits, d)
		}
	}
	hits = dropParents(hits)
	switch len(hits) {
	case 0:
		return Device{}, fmt.Errorf("%w %s%s", ErrNotFound, describeSelector(s), unreadableNote(devs))
	case 1:
		return hits[0], nil
	}
	names := make([]string, len(hits))
	for i, d := range hits {
		names[i] = d.Path
	}
	return Device{}, fmt.Errorf("%w %s: %s; make the selector more specific (uuid or partuuid)",
		ErrAmbiguous, describeSelector(s), strings.Join(names, ", "))
}

func matches(d Device, s config.DiskSelector) bool {
	return eqOpt(s.UUID, d.UUID, true) && eqOpt(s.Label, d.Label, false) &&
		eqOpt(s.PARTUUID, d.PARTUUID, true) && eqOpt(s.Serial, d.Serial, false) &&
		eqOpt(s.Model, d.Model, false)
}

// eqOpt matches an unset selector field against anything. UUIDs compare
// case-insensitively since blkid prints lower case and users paste either.
func eqOpt(want, got string, fold bool) bool {
	if want == "" {
		return true
	}
	if fold {
		return strings.EqualFold(want, got)
	}
	return want == got
}

func dropParents(hits []Device) []Device {
	parents := map[string]bool{}
	for _, d := range hits {
		if d.Parent != "" {
			parents[d.Parent] = true
		}
	}
	out := hits[:0:0]
	for _, d := range hits {
		if !parents[d.Name] {
			out = append(out, d)
		}
	}
	return out
}

// describeSelector renders the set fields, e.g. "label=hd1".
func describeSelector(s config.DiskSelector) string {
	var parts []string
	for _, f := range []struct{ k, v string }{
		{"uuid", s.UUID}, {"label", s.Label}, {"partuuid", s.PARTUUID},
		{"serial", s.Serial}, {"model", s.Model},
	} {
		if f.v != "" {
			parts = append(parts, f.k+"="+f.v)
		}
	}
	return strings.Join(parts, " ")
}

// unreadableNote names the devices blkid could not read, which might be the
// one the selector means.
func unreadableNote(devs []Device) string {
	var names []string
	for _, d := range devs {
		if d.ProbeError != "" {
			names = append(names, d.Path)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (unreadable, not considered: " + strings.Join(names, ", ") + ")"
}
