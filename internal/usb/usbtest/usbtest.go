// Package usbtest builds sysfs and /dev fixture trees of USB devices under a
// host.Root, the way the kernel and udev lay them out, so tests of any
// package can plug and unplug simulated dongles. It is the only simulated
// hardware in nodeagent's tests.
package usbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
)

// FixtureDevice describes one simulated USB device.
type FixtureDevice struct {
	// Name is the sysfs name, e.g. "1-1.3"; it fixes the bus number.
	Name         string
	VendorID     string
	ProductID    string
	Manufacturer string
	Product      string
	Serial       string
	DevNum       int
	// TTY is the serial port ("ttyUSB0", "ttyACM0"), "" for none.
	TTY string
	// ByID overrides the /dev/serial/by-id link name udev would derive.
	ByID string
	// NoByID leaves out the by-id link, as on a system without udev.
	NoByID bool
}

// SonoffZBDongleP is the Sonoff ZBDongle-P (CC2652P behind a CP2102N).
func SonoffZBDongleP() FixtureDevice {
	return FixtureDevice{
		Name: "1-1.3", VendorID: "10c4", ProductID: "ea60", DevNum: 4,
		Manufacturer: "ITead", Product: "Sonoff Zigbee 3.0 USB Dongle Plus",
		Serial: "b2a4c5c8e3c9ec11a4f5a1b2c3d4e5f6", TTY: "ttyUSB0",
	}
}

// ConBeeII is the dresden elektronik ConBee II (cdc_acm, ttyACM).
func ConBeeII() FixtureDevice {
	return FixtureDevice{
		Name: "1-1.2", VendorID: "1cf1", ProductID: "0030", DevNum: 3,
		Manufacturer: "dresden elektronik ingenieurtechnik GmbH", Product: "ConBee II",
		Serial: "DE2426892", TTY: "ttyACM0",
	}
}

// CP2102Cable is a plain USB-serial cable that shares 10c4:ea60 with the
// Sonoff dongle and must not be taken for a Zigbee coordinator.
func CP2102Cable() FixtureDevice {
	return FixtureDevice{
		Name: "1-1.4", VendorID: "10c4", ProductID: "ea60", DevNum: 5,
		Manufacturer: "Silicon Labs", Product: "CP2102 USB to UART Bridge Controller",
		Serial: "0001", TTY: "ttyUSB1",
	}
}

// ByIDName is the link name under /dev/serial/by-id udev gives the device
// (60-serial.rules: usb-<vendor>_<model>_<serial>-if<nn>[-port<n>]), "" when
// it has no tty or no link.
func (d FixtureDevice) ByIDName() string {
	if d.TTY == "" || d.NoByID {
		return ""
	}
	if d.ByID != "" {
		return d.ByID
	}
	name := "usb-" + udevString(d.Manufacturer) + "_" + udevString(d.Product)
	if d.Serial != "" {
		name += "_" + udevString(d.Serial)
	}
	name += "-if00"
	if strings.HasPrefix(d.TTY, "ttyUSB") {
		name += "-port0"
	}
	return name
}

// ByIDPath is the host path of the by-id link, "" without one.
func (d FixtureDevice) ByIDPath() string {
	if n := d.ByIDName(); n != "" {
		return "/dev/serial/by-id/" + n
	}
	return ""
}

func udevString(s string) string { return strings.ReplaceAll(s, " ", "_") }

// Plug adds the device under root in the order a real plug-in produces: the
// kernel's sysfs device, interface, driver binding, tty and /dev node first,
// then, UdevLag later, udev's by-id link.
func Plug(t testing.TB, root host.Root, d FixtureDevice) {
	t.Helper()
	if err := PlugErr(root, d); err != nil {
		t.Fatal(err)
	}
}

// Unplug removes the device in the order of a real removal: the tty and its
// /dev node, the driver binding, the interface and the device, then, UdevLag
// later, the by-id link, and the /dev/serial directories with the last
// serial device, as udev does.
func Unplug(t testing.TB, root host.Root, d FixtureDevice) {
	t.Helper()
	if err := UnplugErr(root, d); err != nil {
		t.Fatal(err)
	}
}

// Tree returns a fresh root in t.TempDir() with the devices plugged in, as
// they are found at boot: nothing watches yet, so without UdevLag.
func Tree(t testing.TB, devices ...FixtureDevice) host.Root {
	t.Helper()
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(root.Path("/sys/bus/usb/devices"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root.Path("/dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if err := plugKernel(root, d); err != nil {
			t.Fatal(err)
		}
		if p := d.ByIDPath(); p != "" {
			if err := linkTo(root, "/dev/"+d.TTY, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func busNum(name string) string {
	bus, _, _ := strings.Cut(name, "-")
	return bus
}

func deviceDir(d FixtureDevice) string {
	return fmt.Sprintf("/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb%s/%s", busNum(d.Name), d.Name)
}

func linkTo(root host.Root, hostTarget, hostLink string) error {
	link := root.Path(hostLink)
	rel, err := filepath.Rel(filepath.Dir(link), root.Path(hostTarget))
	if err != nil {
		return fmt.Errorf("linking %s: %w", hostLink, err)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("linking %s: %w", hostLink, err)
	}
	if err := os.Symlink(rel, link); err != nil {
		return fmt.Errorf("linking %s: %w", hostLink, err)
	}
	return nil
}
