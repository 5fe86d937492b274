// Package uevent listens to the kernel's device events (NETLINK_KOBJECT_UEVENT):
// a disk or a USB stick arriving or leaving. It needs no udev, which a
// minimal image or a container may not run, and the events come straight
// from the kernel. The disk and USB steps both use it.
package uevent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Event is one kernel object event.
type Event struct {
	Action    string
	DevPath   string
	Subsystem string
	DevName   string
}

// Parse decodes a kernel uevent datagram, "action@devpath\0KEY=VALUE\0...".
// Messages in libudev's format (udevd's re-broadcast) are rejected.
func Parse(b []byte) (Event, bool) {
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(fields) < 2 || !bytes.Contains(fields[0], []byte("@/")) {
		return Event{}, false
	}
	var ev Event
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

// Listen subscribes before it returns, so a caller that scans afterwards
// cannot miss a device arriving in between. The returned channel gets a
// (coalesced) signal for every event match accepts, and after the kernel
// dropped events for us (the caller rescans anyway). It works in the host's
// network namespace only; elsewhere it fails and callers rely on rescans.
func Listen(ctx context.Context, match func(Event) bool) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("opening uevent socket: %w", err)
	}
	// Group 1 is the kernel's; group 2 is udevd's re-broadcast.
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding uevent socket: %w", err)
	}
	// A burst (a hub with several devices) should not overflow the buffer.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	// Non-blocking and wrapped in an *os.File, reads go through Go's
	// poller, and Close ends a pending Read when ctx ends.
	f := os.NewFile(uintptr(fd), "uevent")
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go read(f, match, out)
	return out, nil
}

func read(f *os.File, match func(Event) bool, out chan<- struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if errors.Is(err, unix.ENOBUFS) {
			poke(out)
			continue
		}
		if err != nil {
			return // closed
		}
		if ev, ok := Parse(buf[:n]); ok && match(ev) {
			poke(out)
		}
	}
}

func poke(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default: // a signal is already pending; it covers this one
	}
}
