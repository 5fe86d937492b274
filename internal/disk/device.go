package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Device is a block device (whole disk or partition) with what blkid found
// on it.
type Device struct {
	// Name is the kernel name, e.g. "sda1".
	Name string `json:"name"`
	// Path is the device node on the host, e.g. "/dev/sda1".
	Path string `json:"path"`
	// MajMin is "major:minor" as in /sys/class/block/<name>/dev and mountinfo.
	MajMin string `json:"majMin"`
	// Parent is the whole disk of a partition; empty for a disk.
	Parent string `json:"parent,omitempty"`
	// Size is in 512-byte sectors.
	Size     uint64 `json:"size"`
	Serial   string `json:"serial,omitempty"`
	Model    string `json:"model,omitempty"`
	Type     string `json:"type,omitempty"`
	UUID     string `json:"uuid,omitempty"`
	Label    string `json:"label,omitempty"`
	PARTUUID string `json:"partuuid,omitempty"`
	PTType   string `json:"ptType,omitempty"`
	// Removable is the kernel's removable flag of the whole disk (a card
	// reader, most USB sticks); USB is set when the disk hangs off a USB
	// bus. Either means a stranger can plug in a device like it.
	Removable bool `json:"removable,omitempty"`
	USB       bool `json:"usb,omitempty"`
	// Ambivalent is set when blkid found more than one signature.
	Ambivalent bool `json:"ambivalent,omitempty"`
	// ProbeError is why blkid could not read the device; such a device is
	// never mounted or formatted.
	ProbeError string `json:"probeError,omitempty"`
}

// Signature names what is on the device, or "" when blkid found nothing:
// a blank device is the only kind nodeagent formats.
func (d Device) Signature() string {
	var parts []string
	if d.Type != "" {
		parts = append(parts, d.Type)
	}
	if d.PTType != "" {
		parts = append(parts, "partition table "+d.PTType)
	}
	if d.Ambivalent {
		parts = append(parts, "several signatures")
	}
	return strings.Join(parts, ", ")
}

// Scan lists the block devices under root's /sys/class/block and probes each
// one with blkid. Devices of size zero (unattached loop devices, empty card
// readers) are left out. A device blkid cannot read (a failing disk, one a
// sandbox denies) keeps its ProbeError instead of failing the whole scan.
func Scan(ctx context.Context, root host.Root, run host.Runner) ([]Device, error) {
	devs, err := listBlock(root)
	if err != nil {
		return nil, err
	}
	for i := range devs {
		if err := probe(ctx, root, run, &devs[i]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			devs[i].ProbeError = err.Error()
		}
	}
	return devs, nil
}

// listBlock reads sysfs only; it runs no command.
func listBlock(root host.Root) ([]Device, error) {
	dir := root.Path("/sys/class/block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing block devices: %w", err)
	}
	var devs []Device
	for _, e := range entries {
		d, ok := readSysfs(root, e.Name())
		if ok {
			devs = append(devs, d)
		}
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	return devs, nil
}

func readSysfs(root host.Root, name string) (Device, bool) {
	dir := filepath.Join(root.Path("/sys/class/block"), name)
	d := Device{Name: name, Path: "/dev/" + name, MajMin: readAttr(dir, "dev")}
	if d.MajMin == "" {
		return d, false // vanished between ReadDir and now
	}
	fmt.Sscan(readAttr(dir, "size"), &d.Size)
	if d.Size == 0 {
		return d, false
	}
	disk := dir
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		// A partition's sysfs directory sits inside its disk's.
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			disk = filepath.Dir(real)
			d.Parent = filepath.Base(disk)
		}
	}
	d.Removable = readAttr(disk, "removable") == "1"
	d.USB = onUSBBus(disk)
	d.Serial = readSerial(filepath.Join(disk, "device"))
	d.Model = readAttr(filepath.Join(disk, "device"), "model")
	return d, true
}

// onUSBBus reports whether the disk's sysfs directory lies below a USB
// host controller's bus (/sys/devices/.../usb2/2-1/...).
func onUSBBus(diskDir string) bool {
	real, err := filepath.EvalSymlinks(diskDir)
	if err != nil {
		return false
	}
	for _, part := range strings.Split(real, "/") {
		if strings.HasPrefix(part, "usb") {
			return true
		}
	}
	return false
}

// readSerial prefers the serial attribute (NVMe, virtio, MMC) and falls back
// to the SCSI unit serial number page, which USB-SATA bridges expose.
func readSerial(devDir string) string {
	if s := readAttr(devDir, "serial"); s != "" {
		return s
	}
	pg, err := os.ReadFile(filepath.Join(devDir, "vpd_pg80"))
	if err != nil || len(pg) < 4 {
		return ""
	}
	n := int(pg[3])
	if 4+n > len(pg) {
		n = len(pg) - 4
	}
	return strings.TrimSpace(string(bytes.Trim(pg[4:4+n], "\x00")))
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// exitCoder is satisfied by *exec.ExitError (and test doubles).
type exitCoder interface{ ExitCode() int }

// blkid's documented exit codes for low-level probing.
const (
	blkidNothingFound = 2
	blkidAmbivalent   = 8
)

// probe runs `blkid -p` (low-level probe, bypassing the cache, so a
// signature written a moment ago is seen). Anything but a clean "nothing
// found" is an error: an unreadable device must never look blank.
func probe(ctx context.Context, root host.Root, run host.Runner, d *Device) error {
	out, err := run.Run(ctx, "blkid", "-p", "-o", "export", d.Path)
	if err != nil {
		var ec exitCoder
		switch {
		case errors.As(err, &ec) && ec.ExitCode() == blkidNothingFound && !saidError(err):
			return checkBlockNode(root, d.Path)
		case errors.As(err, &ec) && ec.ExitCode() == blkidAmbivalent:
			d.Ambivalent = true
		default:
			return fmt.Errorf("probing %s: %w", d.Path, err)
		}
	}
	applyBlkid(d, out)
	return nil
}

// checkBlockNode confirms a "blank" answer came from a real block device:
// blkid is silent and exits 2 also when the node does not exist.
func checkBlockNode(root host.Root, dev string) error {
	fi, err := os.Stat(root.Path(dev))
	if err != nil {
		return fmt.Errorf("probing %s: %w", dev, err)
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return fmt.Errorf("probing %s: not a block device", dev)
	}
	return nil
}

// saidError reports whether blkid printed an error: it exits 2 ("nothing
// found") also when it cannot open the device, which must not read as blank.
func saidError(err error) bool {
	var ce *host.CommandError
	return errors.As(err, &ce) && ce.Stderr != ""
}

// applyBlkid copies the fields of `blkid -o export` output into d.
func applyBlkid(d *Device, out []byte) {
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = unescapeExport(v)
		switch k {
		case "TYPE":
			d.Type = v
		case "UUID":
			d.UUID = v
		case "LABEL":
			d.Label = v
		case "PARTUUID", "PART_ENTRY_UUID":
			d.PARTUUID = v
		case "PTTYPE":
			d.PTType = v
		}
	}
}

// unescapeExport undoes the shell quoting of `-o export` ("my\ disk").
func unescapeExport(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
