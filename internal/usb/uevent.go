package usb

import "bytes"

// Uevent is a kernel object event as the kernel broadcasts it on the
// NETLINK_KOBJECT_UEVENT socket: "add@/devices/...\0ACTION=add\0SUBSYSTEM=usb\0...".
type Uevent struct {
	Action    string
	DevPath   string
	Subsystem string
}

// ParseUevent decodes one kernel uevent message. Messages udev re-broadcasts
// ("libudev" magic header) are rejected: nodeagent listens to the kernel,
// which needs no udev and comes first.
func ParseUevent(msg []byte) (Uevent, bool) {
	fields := bytes.Split(msg, []byte{0})
	if len(fields) == 0 || !bytes.Contains(fields[0], []byte("@/")) {
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
		}
	}
	return ev, ev.Action != ""
}

// relevantUevent reports whether ev can change the USB scan: a USB device or
// interface coming, going or binding a driver, or a tty appearing.
func relevantUevent(ev Uevent) bool {
	switch ev.Subsystem {
	case "usb", "tty", "usb-serial":
	default:
		return false
	}
	switch ev.Action {
	case "add", "remove", "bind", "unbind", "change":
		return true
	}
	return false
}
