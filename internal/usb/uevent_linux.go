package usb

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// listenUevents sends on the returned channel whenever the kernel reports a
// USB or tty uevent, until ctx ends. sysfs cannot be watched with inotify
// for kernel-made entries, so this is how a device without a serial port
// (no /dev event) is seen before the next resync. It needs the host's
// network namespace; elsewhere it fails and the watcher does without.
func listenUevents(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("opening uevent socket: %w", err)
	}
	// Group 1 carries the kernel's own broadcasts (udev re-sends on 2).
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding uevent socket: %w", err)
	}
	// A non-blocking fd wrapped in os.File uses the runtime poller, so
	// Close unblocks the reader when ctx ends.
	f := os.NewFile(uintptr(fd), "uevent")
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		buf := make([]byte, 16<<10)
		for {
			n, err := f.Read(buf)
			if errors.Is(err, unix.ENOBUFS) {
				// The kernel dropped events for us: rescan to be sure.
				poke(out)
				continue
			}
			if err != nil {
				return // closed; other socket errors end uevents, resync remains
			}
			if ev, ok := ParseUevent(buf[:n]); ok && relevantUevent(ev) {
				poke(out)
			}
		}
	}()
	return out, nil
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default: // a poke is already pending
	}
}
