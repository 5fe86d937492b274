package usb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/nodeagent/nodeagent/internal/host"
)

// ttyRe matches the serial ports USB adapters get: ttyUSB* from usb-serial
// drivers (cp210x, ftdi_sio, ch341) and ttyACM* from cdc_acm (ConBee,
// CC2531, ESP32-S3 based sticks).
var ttyRe = regexp.MustCompile(`^tty(USB|ACM)[0-9]+$`)

// IsTTYName reports whether name is a USB serial port name.
func IsTTYName(name string) bool { return ttyRe.MatchString(name) }

// findTTY returns the first serial port of device dir. usb-serial drivers put
// it at <dev>:<if>/ttyUSB0, cdc_acm at <dev>:<if>/tty/ttyACM0; interfaces are
// visited in order so a multi-port adapter answers with its first port.
func findTTY(dir, name string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("listing interfaces of usb device %s: %w", dir, err)
	}
	var ifaces []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), name+":") {
			ifaces = append(ifaces, e.Name())
		}
	}
	sort.Strings(ifaces)
	for _, iface := range ifaces {
		for _, sub := range []string{"", "tty"} {
			tty, err := ttyIn(filepath.Join(dir, iface, sub))
			if err != nil {
				return "", err
			}
			if tty != "" {
				return tty, nil
			}
		}
	}
	return "", nil
}

// ttyIn returns the first tty name among the entries of dir, "" if none or
// if dir vanished (an interface unbinding while we look).
func ttyIn(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	// ENOTDIR: <if>/tty is an attribute file on some drivers, not a class
	// directory.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", dir, err)
	}
	var ttys []string
	for _, e := range entries {
		if IsTTYName(e.Name()) {
			ttys = append(ttys, e.Name())
		}
	}
	if len(ttys) == 0 {
		return "", nil
	}
	sort.Strings(ttys)
	return ttys[0], nil
}

// readByID maps tty names to their /dev/serial/by-id link (a host path). A
// node without udev or without any serial device has no by-id directory.
// When udev made several links to one port the first by name wins, so the
// answer is stable.
func readByID(root host.Root) (map[string]string, error) {
	dir := root.Path(serialByID)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	out := map[string]string{}
	for _, e := range entries { // ReadDir sorts by name
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			// Removed since the listing, or not a link: not ours to judge.
			continue
		}
		tty := filepath.Base(target)
		if _, seen := out[tty]; !seen && IsTTYName(tty) {
			out[tty] = serialByID + "/" + e.Name()
		}
	}
	return out, nil
}
