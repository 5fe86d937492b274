package disk

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Uevent is a kernel object event (add/change/remove of a device).
type Uevent struct {
	Action    string
	DevPath   string
	Subsystem string
	DevName   string
}

// openUevents subscribes to the kernel's uevent multicast group. It needs no
// udev: the events come straight from the kernel, which is what a minimal
// image or a container without udevd has. The socket is non-blocking and
// wrapped in an *os.File so reads go through Go's poller and Close ends a
// pending Read.
func openUevents() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK,
		unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("opening uevent socket: %w", err)
	}
	// Group 1 is the kernel's; group 2 is udevd's re-broadcast, which a host
	// without udevd never sends.
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding uevent socket: %w", err)
	}
	// A burst (a USB hub with several disks) must not overflow the buffer;
	// if it does anyway, the rescan catches up.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return os.NewFile(uintptr(fd), "uevent"), nil
}

// ParseUevent decodes one kernel uevent datagram: "action@devpath\0KEY=VALUE\0...".
// Messages in libudev's format (from group 2) are rejected.
func ParseUevent(b []byte) (Uevent, bool) {
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(fields) < 2 || !bytes.Contains(fields[0], []byte("@")) {
		return Uevent{}, false
	}
	var ev Uevent
	for _, f := range fields[1:] {
		k, v, ok := bytes.Cut(f, []byte("="))
		if !ok {
			continue
		}
		switch string(k) {
		case "ACTION":
			ev.Action = string(v)
		case "DEVPATH":
			ev.DevPath = string(v)
		case "SUBSYSTEM":
			ev.Subsystem = string(v)
		case "DEVNAME":
			ev.DevName = string(v)
		}
	}
	return ev, ev.Action != ""
}

// readUevents forwards block-device events until the file is closed. Events
// only trigger a rescan, so a spoofed one (only root can send to group 1
// anyway) costs a blkid run and nothing more.
func readUevents(f *os.File, out chan<- Uevent) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue // ENOBUFS after an overflow: keep reading, the rescan covers the loss
		}
		if ev, ok := ParseUevent(buf[:n]); ok && ev.Subsystem == "block" {
			select {
			case out <- ev:
			default: // a notification is already pending; it covers this one
			}
		}
	}
}
