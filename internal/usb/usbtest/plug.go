package usbtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nodeagent/nodeagent/internal/host"
)

// PlugErr is Plug for callers without a testing.TB (benchmark loops,
// goroutines).
func PlugErr(root host.Root, d FixtureDevice) error {
	if err := writeSysfs(root, d); err != nil {
		return fmt.Errorf("plugging %s: %w", d.Name, err)
	}
	if d.TTY == "" {
		return nil
	}
	if err := os.WriteFile(root.Path("/dev/"+d.TTY), nil, 0o660); err != nil {
		return fmt.Errorf("plugging %s: %w", d.Name, err)
	}
	if p := d.ByIDPath(); p != "" {
		if err := linkTo(root, "/dev/"+d.TTY, p); err != nil {
			return fmt.Errorf("plugging %s: %w", d.Name, err)
		}
	}
	return nil
}

// UnplugErr is Unplug for callers without a testing.TB.
func UnplugErr(root host.Root, d FixtureDevice) error {
	busLink := "/sys/bus/usb/devices/" + d.Name
	for _, p := range []string{busLink + ":1.0", busLink, deviceDir(d), "/dev/" + d.TTY, d.ByIDPath()} {
		if p == "" || p == "/dev/" {
			continue
		}
		if err := os.RemoveAll(root.Path(p)); err != nil {
			return fmt.Errorf("unplugging %s: %w", d.Name, err)
		}
	}
	for _, dir := range []string{"/dev/serial/by-id", "/dev/serial"} {
		err := os.Remove(root.Path(dir))
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("unplugging %s: %w", d.Name, err)
		}
	}
	return nil
}

// writeSysfs lays out the device like the kernel: a device directory with
// its attributes, an interface directory holding the tty, and the links in
// /sys/bus/usb/devices Scan starts from.
func writeSysfs(root host.Root, d FixtureDevice) error {
	dev := deviceDir(d)
	iface := dev + "/" + d.Name + ":1.0"
	attrs := map[string]string{
		"idVendor": d.VendorID, "idProduct": d.ProductID, "manufacturer": d.Manufacturer,
		"product": d.Product, "serial": d.Serial, "busnum": busNum(d.Name),
		"devnum": strconv.Itoa(d.DevNum), "devpath": devpath(d.Name),
	}
	if err := writeAttrs(root.Path(dev), attrs); err != nil {
		return err
	}
	if err := writeAttrs(root.Path(iface), map[string]string{"bInterfaceNumber": "00", "bInterfaceClass": "ff"}); err != nil {
		return err
	}
	if d.TTY != "" {
		// usb-serial: <if>/ttyUSB0/tty/ttyUSB0; cdc_acm: <if>/tty/ttyACM0.
		ttyDir := iface + "/tty/" + d.TTY
		if strings.HasPrefix(d.TTY, "ttyUSB") {
			ttyDir = iface + "/" + d.TTY + "/tty/" + d.TTY
		}
		if err := writeAttrs(root.Path(ttyDir), map[string]string{"dev": "188:0"}); err != nil {
			return err
		}
	}
	if err := linkTo(root, iface, "/sys/bus/usb/devices/"+d.Name+":1.0"); err != nil {
		return err
	}
	return linkTo(root, dev, "/sys/bus/usb/devices/"+d.Name)
}

// devpath is the port chain after the bus: "1-1.3" -> "1.3".
func devpath(name string) string {
	_, p, _ := strings.Cut(name, "-")
	return p
}

func writeAttrs(dir string, attrs map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for k, v := range attrs {
		if v == "" {
			continue // optional strings are absent, not empty, in sysfs
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o444); err != nil {
			return err
		}
	}
	return nil
}
