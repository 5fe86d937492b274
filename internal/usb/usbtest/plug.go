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
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// UdevLag is how long after the kernel's part of a plug or unplug the
// fixture makes or removes the /dev/serial/by-id link, as udev does once it
// has run its rules (tens of milliseconds on a Raspberry Pi). A watcher that
// publishes before the link exists is caught by the tests that check the
// device annotation.
const UdevLag = 20 * time.Millisecond

// PlugErr is Plug for callers without a testing.TB (benchmark loops,
// goroutines).
func PlugErr(root host.Root, d FixtureDevice) error {
	if err := plugKernel(root, d); err != nil {
		return fmt.Errorf("plugging %s: %w", d.Name, err)
	}
	if p := d.ByIDPath(); p != "" {
		time.Sleep(UdevLag) // udev's rules run after the kernel's event
		if err := linkTo(root, "/dev/"+d.TTY, p); err != nil {
			return fmt.Errorf("plugging %s: %w", d.Name, err)
		}
	}
	return nil
}

// plugKernel is the kernel's part of a plug, in its order: the device, its
// interface, the driver binding to it, the tty, and the /dev node devtmpfs
// makes for it.
func plugKernel(root host.Root, d FixtureDevice) error {
	if err := writeSysfs(root, d); err != nil {
		return err
	}
	if d.TTY == "" {
		return nil
	}
	return os.WriteFile(root.Path("/dev/"+d.TTY), nil, 0o660)
}

// UnplugErr is Unplug for callers without a testing.TB.
func UnplugErr(root host.Root, d FixtureDevice) error {
	if err := unplugKernel(root, d); err != nil {
		return fmt.Errorf("unplugging %s: %w", d.Name, err)
	}
	if p := d.ByIDPath(); p != "" {
		time.Sleep(UdevLag)
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

// unplugKernel is the kernel's part of a removal, in its order: the tty and
// its /dev node go as the driver disconnects, then the binding, the
// interface and the device.
func unplugKernel(root host.Root, d FixtureDevice) error {
	dev, busLink := deviceDir(d), "/sys/bus/usb/devices/"+d.Name
	iface := dev + "/" + d.Name + ":1.0"
	var paths []string
	if d.TTY != "" {
		paths = append(paths, ttyDir(iface, d.TTY), "/dev/"+d.TTY)
	}
	paths = append(paths, iface+"/driver", busLink+":1.0", iface, busLink, dev)
	for _, p := range paths {
		if err := os.RemoveAll(root.Path(p)); err != nil {
			return err
		}
	}
	return nil
}

// writeSysfs lays out the device like the kernel: a device directory with
// its attributes, an interface directory, the driver bound to it and the tty
// it made, each with its link in /sys/bus/usb/devices where Scan starts. A
// device without a tty has no driver bound, like a CC2531 without its
// firmware's driver.
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
	if err := linkTo(root, dev, "/sys/bus/usb/devices/"+d.Name); err != nil {
		return err
	}
	if err := writeAttrs(root.Path(iface), map[string]string{"bInterfaceNumber": "00", "bInterfaceClass": "ff"}); err != nil {
		return err
	}
	if err := linkTo(root, iface, "/sys/bus/usb/devices/"+d.Name+":1.0"); err != nil {
		return err
	}
	if d.TTY == "" {
		return nil
	}
	if err := linkTo(root, "/sys/bus/usb/drivers/"+driver(d.TTY), iface+"/driver"); err != nil {
		return err
	}
	return writeAttrs(root.Path(ttyDir(iface, d.TTY)), map[string]string{"dev": "188:0"})
}

// ttyDir is where the tty's class device sits: usb-serial drivers put it at
// <if>/ttyUSB0/tty/ttyUSB0, cdc_acm at <if>/tty/ttyACM0.
func ttyDir(iface, tty string) string {
	if strings.HasPrefix(tty, "ttyUSB") {
		return iface + "/" + tty + "/tty/" + tty
	}
	return iface + "/tty/" + tty
}

// driver names the interface driver that makes tty.
func driver(tty string) string {
	if strings.HasPrefix(tty, "ttyUSB") {
		return "cp210x"
	}
	return "cdc_acm"
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
