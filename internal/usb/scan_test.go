package usb_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

// piHub is the VIA Labs hub every Raspberry Pi 4 has on bus 1: no tty, no
// strings of interest, and no rule may match it.
func piHub() usbtest.FixtureDevice {
	return usbtest.FixtureDevice{Name: "1-1", VendorID: "2109", ProductID: "3431", Product: "USB2.0 Hub", DevNum: 2}
}

func TestScan(t *testing.T) {
	hub := usb.Device{Name: "1-1", VendorID: "2109", ProductID: "3431", Product: "USB2.0 Hub", BusNum: 1, DevNum: 2, DevPath: "1"}
	sonoff := usb.Device{
		Name: "1-1.3", VendorID: "10c4", ProductID: "ea60", Manufacturer: "ITead",
		Product: "Sonoff Zigbee 3.0 USB Dongle Plus", Serial: "b2a4c5c8e3c9ec11a4f5a1b2c3d4e5f6",
		BusNum: 1, DevNum: 4, DevPath: "1.3", TTY: "ttyUSB0",
		ByID: "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_b2a4c5c8e3c9ec11a4f5a1b2c3d4e5f6-if00-port0",
	}
	conbee := usb.Device{
		Name: "1-1.2", VendorID: "1cf1", ProductID: "0030", Manufacturer: "dresden elektronik ingenieurtechnik GmbH",
		Product: "ConBee II", Serial: "DE2426892", BusNum: 1, DevNum: 3, DevPath: "1.2", TTY: "ttyACM0",
		ByID: "/dev/serial/by-id/usb-dresden_elektronik_ingenieurtechnik_GmbH_ConBee_II_DE2426892-if00",
	}
	noUdev := usbtest.SonoffZBDongleP()
	noUdev.NoByID = true
	sonoffNoLink := sonoff
	sonoffNoLink.ByID = ""
	noStrings := usbtest.FixtureDevice{Name: "2-1", VendorID: "0451", ProductID: "16a8", DevNum: 2, TTY: "ttyACM1", NoByID: true}

	tests := []struct {
		name    string
		devices []usbtest.FixtureDevice
		want    []usb.Device
	}{
		{name: "bare pi", devices: []usbtest.FixtureDevice{piHub()}, want: []usb.Device{hub}},
		{name: "sonoff on ttyUSB0", devices: []usbtest.FixtureDevice{piHub(), usbtest.SonoffZBDongleP()}, want: []usb.Device{hub, sonoff}},
		{name: "conbee on ttyACM0", devices: []usbtest.FixtureDevice{usbtest.ConBeeII()}, want: []usb.Device{conbee}},
		{name: "sorted by sysfs name", devices: []usbtest.FixtureDevice{usbtest.SonoffZBDongleP(), usbtest.ConBeeII()}, want: []usb.Device{conbee, sonoff}},
		{name: "no udev: tty without by-id", devices: []usbtest.FixtureDevice{noUdev}, want: []usb.Device{sonoffNoLink}},
		{
			name:    "device without strings",
			devices: []usbtest.FixtureDevice{noStrings},
			want:    []usb.Device{{Name: "2-1", VendorID: "0451", ProductID: "16a8", BusNum: 2, DevNum: 2, DevPath: "1", TTY: "ttyACM1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := usbtest.Tree(t, tt.devices...)
			got, err := usb.Scan(root)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanAfterUnplugForgetsDevice(t *testing.T) {
	root := usbtest.Tree(t, usbtest.SonoffZBDongleP(), usbtest.ConBeeII())
	usbtest.Unplug(t, root, usbtest.SonoffZBDongleP())
	got, err := usb.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1-1.2"}, names(got)); diff != "" {
		t.Errorf("devices after unplug (-want +got):\n%s", diff)
	}
	// The ConBee still holds /dev/serial/by-id, so it must stay.
	if _, err := os.Stat(root.Path("/dev/serial/by-id")); err != nil {
		t.Errorf("by-id dir of the remaining device: %v", err)
	}
	usbtest.Unplug(t, root, usbtest.ConBeeII())
	if _, err := os.Stat(root.Path("/dev/serial")); !os.IsNotExist(err) {
		t.Errorf("/dev/serial after the last unplug: want gone, got err=%v", err)
	}
}

func TestScanWithoutUSBBus(t *testing.T) {
	got, err := usb.Scan(host.NewRoot(t.TempDir()))
	if err != nil || len(got) != 0 {
		t.Errorf("Scan of a host without /sys/bus/usb = %v, %v; want none, nil", got, err)
	}
}

func names(ds []usb.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}
