package usb

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// settled reports whether every device res brings beyond last has finished
// arriving, so res can be published without a fixed wait. A device that
// went away needs nothing: a removal is complete at once.
func settled(root host.Root, res, last Result) bool {
	for _, m := range res.Matches {
		if hasMatch(last, m) {
			continue
		}
		if lostTTY(last, m.Device) || !complete(root, m.Device) {
			return false
		}
	}
	return true
}

// lostTTY reports whether d had a serial port in last and has none now: on
// unplug the driver removes the tty before the kernel unbinds it and removes
// the device, so this is most likely a removal half done.
func lostTTY(last Result, d Device) bool {
	if d.TTY != "" {
		return false
	}
	for _, o := range last.Matches {
		if o.Device.Name == d.Name && o.Device.TTY != "" {
			return true
		}
	}
	return false
}

// hasMatch reports whether r already names m's device, as Equal compares it.
func hasMatch(r Result, m RuleMatch) bool {
	for _, o := range r.Matches {
		if o.Rule == m.Rule && o.Device.Name == m.Device.Name && o.Device.ID() == m.Device.ID() &&
			o.Device.Path() == m.Device.Path() && o.Device.Serial == m.Device.Serial {
			return true
		}
	}
	return false
}

// complete reports whether d has finished arriving. With a serial port, that
// is its /dev node and udev's by-id link, made last (60-serial.rules), which
// is the path published. Without one, every interface must have its driver
// bound: a usb-serial or cdc_acm driver makes the tty during its probe,
// before the kernel records the binding, so a bound device with no tty will
// not grow one. An interface no driver claims keeps the device incomplete
// until the debounce publishes it anyway.
func complete(root host.Root, d Device) bool {
	if d.TTY != "" {
		_, err := os.Stat(root.Path(devDir + "/" + d.TTY))
		return err == nil && d.ByID != ""
	}
	return driversBound(root.Path(sysUSBDevices + "/" + d.Name))
}

// driversBound reports whether dev has interfaces and all are bound.
func driversBound(dev string) bool {
	entries, err := os.ReadDir(dev)
	if err != nil {
		return false
	}
	ifaces := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), filepath.Base(dev)+":") {
			continue
		}
		ifaces++
		if _, err := os.Lstat(filepath.Join(dev, e.Name(), "driver")); err != nil {
			return false
		}
	}
	return ifaces > 0
}
