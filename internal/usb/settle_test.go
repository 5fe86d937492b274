package usb

import (
	"os"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

func TestSettled(t *testing.T) {
	rules := []config.USBRule{{Name: "zigbee", Labels: map[string]string{"zigbee": "true"},
		Match: []config.USBMatch{{VendorID: "10c4", ProductID: "ea60"}, {VendorID: "0451", ProductID: "16a8"}}}}
	sonoff := usbtest.SonoffZBDongleP()
	noByID := sonoff
	noByID.NoByID = true
	cc2531 := usbtest.FixtureDevice{Name: "1-1.2", VendorID: "0451", ProductID: "16a8", DevNum: 3}
	sysfs := "/sys/bus/usb/devices/" + sonoff.Name + ":1.0"
	tests := []struct {
		name    string
		devices []usbtest.FixtureDevice
		// change edits the tree after the plug.
		change func(t *testing.T, root host.Root)
		// published: the sonoff, as plugged, was published before.
		published bool
		want      bool
	}{
		{name: "stick with its by-id link", devices: []usbtest.FixtureDevice{sonoff}, want: true},
		{name: "stick before udev's link", devices: []usbtest.FixtureDevice{noByID}, want: false},
		{name: "stick whose /dev node is gone", devices: []usbtest.FixtureDevice{sonoff},
			change: remove("/dev/" + sonoff.TTY), want: false},
		{name: "interface without a driver", devices: []usbtest.FixtureDevice{cc2531}, want: false},
		{name: "device without interfaces yet", devices: []usbtest.FixtureDevice{cc2531},
			change: remove("/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1/1-1.2/1-1.2:1.0"), want: false},
		{name: "published stick unchanged", devices: []usbtest.FixtureDevice{sonoff}, published: true, want: true},
		{name: "published stick that lost its tty, driver still bound", devices: []usbtest.FixtureDevice{sonoff}, published: true,
			change: remove(sysfs + "/" + sonoff.TTY), want: false},
		{name: "removal", published: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last Result
			if tt.published {
				last = scanMatch(t, usbtest.Tree(t, sonoff), rules)
			}
			root := usbtest.Tree(t, tt.devices...)
			if tt.change != nil {
				tt.change(t, root)
			}
			res := scanMatch(t, root, rules)
			if got := settled(root, res, last); got != tt.want {
				t.Errorf("settled = %v, want %v (matches %v)", got, tt.want, res.Matches)
			}
		})
	}
}

func remove(path string) func(*testing.T, host.Root) {
	return func(t *testing.T, root host.Root) {
		if err := os.RemoveAll(root.Path(path)); err != nil {
			t.Fatal(err)
		}
	}
}

func scanMatch(t *testing.T, root host.Root, rules []config.USBRule) Result {
	t.Helper()
	devices, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	return Match(devices, rules)
}
