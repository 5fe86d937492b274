package usb

import "fmt"

// Device is one USB device as sysfs describes it, with the serial port it
// exposes, if any.
type Device struct {
	// Name is the sysfs name, e.g. "1-1.3" (bus 1, hub port 1, port 3).
	Name         string `json:"name"`
	VendorID     string `json:"vendorID"`
	ProductID    string `json:"productID"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	BusNum       int    `json:"busNum"`
	DevNum       int    `json:"devNum"`
	DevPath      string `json:"devPath,omitempty"`
	// TTY is the first serial port of the device ("ttyUSB0", "ttyACM0").
	TTY string `json:"tty,omitempty"`
	// ByID is the udev link to TTY under /dev/serial/by-id, a host path.
	ByID string `json:"byID,omitempty"`
}

// ID is "vendor:product" as lsusb prints it.
func (d Device) ID() string { return d.VendorID + ":" + d.ProductID }

// DevNode is the /dev node of the serial port, or "" without one.
func (d Device) DevNode() string {
	if d.TTY == "" {
		return ""
	}
	return "/dev/" + d.TTY
}

// Path is the path a program should open: the by-id link, which survives
// re-plugging and renumbering, else the /dev node (ttyUSB0 becomes ttyUSB1
// when another adapter was plugged first).
func (d Device) Path() string {
	if d.ByID != "" {
		return d.ByID
	}
	return d.DevNode()
}

// String is for logs and plan output.
func (d Device) String() string {
	s := fmt.Sprintf("%s %s", d.Name, d.ID())
	if d.Product != "" {
		s += fmt.Sprintf(" %q", d.Product)
	}
	if p := d.Path(); p != "" {
		s += " at " + p
	}
	return s
}
