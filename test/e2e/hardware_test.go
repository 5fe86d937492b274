package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

// loopDisk is pi5's "HDD": a loop device with an ext4 filesystem whose
// label is unique to the run, since other tests create loop devices
// labelled hd1 at the same time and the container sees the host's
// /sys/class/block.
type loopDisk struct {
	Dev   string // /dev/loopN on the host
	Image string // the file behind it
	Label string
	UUID  string
}

func newLoopDisk(t *testing.T, label string) loopDisk {
	t.Helper()
	img := filepath.Join(t.TempDir(), "hd1.img")
	run(t, "truncate", "-s", "64M", img)
	dev := strings.TrimSpace(run(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("detaching %s: %v: %s", dev, err, out)
		}
	})
	// The cluster file selects the disk by this UUID, as the shipped
	// example selects the HDD.
	uuid := randomUUID(t)
	run(t, "mkfs.ext4", "-q", "-F", "-L", label, "-U", uuid, dev)
	if got := strings.TrimSpace(run(t, "blkid", "-p", "-s", "UUID", "-o", "value", dev)); got != uuid {
		t.Fatalf("blkid reads UUID %q on %s, formatted with %s", got, dev, uuid)
	}
	return loopDisk{Dev: dev, Image: img, Label: label, UUID: uuid}
}

// unplug detaches the loop device as pulling a USB disk removes it: the
// kernel lets go of it once the filesystem on it is unmounted (autoclear),
// and its change event reaches every container's uevent socket.
func (d loopDisk) unplug(t *testing.T) { run(t, "losetup", "-d", d.Dev) }

// plug attaches the image again to the same device, so the container's
// device node and links stay valid, as udev recreates them on a Pi.
func (d loopDisk) plug(t *testing.T) { run(t, "losetup", d.Dev, d.Image) }

// randomUUID is a version 4 UUID, unique to the run like the label.
func randomUUID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// exposeDisk does inside the container what udev does on a Pi: it creates
// the device node and the /dev/disk/by-uuid and by-label links.
// systemd-nspawn gives the container a private /dev without udev, so the
// node has to be made here; with --register=no --keep-unit no device cgroup
// policy applies, so mknod + open work for the container's root.
func exposeDisk(t *testing.T, n *node, d loopDisk) {
	t.Helper()
	majmin := strings.TrimSpace(run(t, "lsblk", "-dn", "-o", "MAJ:MIN", d.Dev))
	maj, minor, _ := strings.Cut(majmin, ":")
	name := filepath.Base(d.Dev)
	script := strings.Join([]string{
		"set -e",
		"[ -b /dev/" + name + " ] || mknod -m 0660 /dev/" + name + " b " + maj + " " + minor,
		"mkdir -p /dev/disk/by-uuid /dev/disk/by-label",
		"ln -sfn ../../" + name + " /dev/disk/by-uuid/" + d.UUID,
		"ln -sfn ../../" + name + " /dev/disk/by-label/" + d.Label,
	}, "\n")
	n.mustExec(t, "sh", "-c", script)
}

// usbFixture is pi4-2's Zigbee dongle: a sysfs and /dev tree in a host temp
// dir, bound into the container at the same path; nodeagent there reads USB
// devices under it (--usb-root).
type usbFixture struct {
	Root   host.Root
	Dir    string
	Dongle usbtest.FixtureDevice
}

func newUSBFixture(t *testing.T) *usbFixture {
	t.Helper()
	dongle := usbtest.SonoffZBDongleP()
	root := usbtest.Tree(t, dongle)
	dir := root.Path("/")
	// The tree lives in t.TempDir (0700 parents are fine for root inside).
	if _, err := os.Stat(filepath.Join(dir, "sys/bus/usb/devices", dongle.Name)); err != nil {
		t.Fatalf("usb fixture: %v", err)
	}
	return &usbFixture{Root: root, Dir: filepath.Clean(dir), Dongle: dongle}
}

func (f *usbFixture) unplug(t *testing.T) { usbtest.Unplug(t, f.Root, f.Dongle) }
func (f *usbFixture) plug(t *testing.T)   { usbtest.Plug(t, f.Root, f.Dongle) }
