package usb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Host paths Scan reads.
const (
	sysUSBDevices = "/sys/bus/usb/devices"
	devDir        = "/dev"
	serialDir     = "/dev/serial"
	serialByID    = "/dev/serial/by-id"
)

// Scan lists the USB devices under root, sorted by sysfs name. A device that
// disappears while it is read is left out: the unplug will trigger another
// scan anyway. A host without a USB bus has no devices.
func Scan(root host.Root) ([]Device, error) {
	dir := root.Path(sysUSBDevices)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing usb devices in %s: %w", dir, err)
	}
	byID, err := readByID(root)
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, e := range entries {
		// "1-1.3:1.0" is an interface of device "1-1.3", not a device.
		if strings.Contains(e.Name(), ":") {
			continue
		}
		d, err := readDevice(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		d.ByID = byID[d.TTY]
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readDevice reads the attributes of one device directory. Only idVendor and
// idProduct are required; the strings are optional in the USB spec and many
// cheap adapters leave the serial out.
func readDevice(dir string) (Device, error) {
	d := Device{Name: filepath.Base(dir)}
	var err error
	if d.VendorID, err = readAttr(dir, "idVendor"); err != nil {
		return Device{}, err
	}
	if d.ProductID, err = readAttr(dir, "idProduct"); err != nil {
		return Device{}, err
	}
	for _, a := range []struct {
		name string
		dst  *string
	}{{"manufacturer", &d.Manufacturer}, {"product", &d.Product}, {"serial", &d.Serial}, {"devpath", &d.DevPath}} {
		if *a.dst, err = readOptionalAttr(dir, a.name); err != nil {
			return Device{}, err
		}
	}
	if d.BusNum, err = readIntAttr(dir, "busnum"); err != nil {
		return Device{}, err
	}
	if d.DevNum, err = readIntAttr(dir, "devnum"); err != nil {
		return Device{}, err
	}
	if d.TTY, err = findTTY(dir, d.Name); err != nil {
		return Device{}, err
	}
	return d, nil
}

func readAttr(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("reading usb attribute %s of %s: %w", name, dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readOptionalAttr(dir, name string) (string, error) {
	s, err := readAttr(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		// The device itself may be gone; the caller tells the two apart
		// through idVendor, which it already read.
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
		return "", nil
	}
	return s, err
}

func readIntAttr(dir, name string) (int, error) {
	s, err := readOptionalAttr(dir, name)
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parsing usb attribute %s of %s: %w", name, dir, err)
	}
	return n, nil
}
