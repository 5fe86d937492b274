package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/host"
)

// sysBlock is one block device in a fixture sysfs tree.
type sysBlock struct {
	name, parent, majMin, size, serial, model string
	vpd80                                     []byte
	removable                                 bool // the disk's removable attribute
	usb                                       bool // the disk sits below a USB bus
}

// writeSysfs lays out /sys/class/block like the kernel does: class entries
// are symlinks into /sys/devices, partitions live inside their disk.
func writeSysfs(t *testing.T, blocks ...sysBlock) host.Root {
	t.Helper()
	root := t.TempDir()
	class := filepath.Join(root, "sys/class/block")
	must(t, os.MkdirAll(class, 0o755))
	usbDisks := map[string]bool{}
	for _, b := range blocks {
		if b.usb {
			usbDisks[b.name] = true
		}
	}
	for _, b := range blocks {
		dir := filepath.Join(root, blockParent(b, usbDisks), b.name)
		if b.parent != "" {
			dir = filepath.Join(root, blockParent(b, usbDisks), b.parent, b.name)
		}
		must(t, os.MkdirAll(dir, 0o755))
		writeAttr(t, dir, "dev", b.majMin)
		writeAttr(t, dir, "size", b.size)
		if b.parent != "" {
			writeAttr(t, dir, "partition", "1")
		} else {
			writeAttr(t, dir, "removable", map[bool]string{false: "0", true: "1"}[b.removable])
			dev := filepath.Join(dir, "device")
			must(t, os.MkdirAll(dev, 0o755))
			if b.serial != "" {
				writeAttr(t, dev, "serial", b.serial)
			}
			if b.model != "" {
				writeAttr(t, dev, "model", b.model+"   ")
			}
			if b.vpd80 != nil {
				must(t, os.WriteFile(filepath.Join(dev, "vpd_pg80"), b.vpd80, 0o444))
			}
		}
		must(t, os.Symlink(dir, filepath.Join(class, b.name)))
	}
	return host.NewRoot(root)
}

// blockParent is where the kernel puts a disk's directory: a USB disk
// below its host controller's bus, as on a Raspberry Pi.
func blockParent(b sysBlock, usbDisks map[string]bool) string {
	if usbDisks[b.name] || usbDisks[b.parent] {
		return "sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:01:00.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block"
	}
	return "sys/devices/virtual/block"
}

func writeAttr(t *testing.T, dir, name, value string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o444))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// exitErr stands in for *exec.ExitError in FakeRunner answers.
type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

// blockNodeRoot is a root whose /dev holds a block device node name (8:16),
// so a "nothing found" answer is believed.
func blockNodeRoot(t *testing.T, name string) host.Root {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "dev"), 0o755))
	must(t, unix.Mknod(filepath.Join(root, "dev", name), unix.S_IFBLK|0o600, int(unix.Mkdev(8, 16))))
	return host.NewRoot(root)
}
