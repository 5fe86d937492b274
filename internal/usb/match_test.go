package usb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

func defaultRules(t *testing.T) []config.USBRule {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return f.USBRules()
}

const (
	sonoffByID = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_b2a4c5c8e3c9ec11a4f5a1b2c3d4e5f6-if00-port0"
	conbeeByID = "/dev/serial/by-id/usb-dresden_elektronik_ingenieurtechnik_GmbH_ConBee_II_DE2426892-if00"
)

// match is what a test compares: the result without the device details
// TestScan already covers.
type match struct {
	Labels, Annotations map[string]string
	Matches             []string // rule/device/description
}

func summarize(r usb.Result) match {
	m := match{Labels: r.Labels, Annotations: r.Annotations}
	for _, rm := range r.Matches {
		m.Matches = append(m.Matches, rm.Rule+"/"+rm.Device.Name+"/"+rm.Description)
	}
	return m
}

func TestMatchBuiltinCatalog(t *testing.T) {
	zigbee := map[string]string{"zigbee": "true"}
	tests := []struct {
		name    string
		devices []usbtest.FixtureDevice
		want    match
	}{
		{name: "bare pi", devices: []usbtest.FixtureDevice{piHub()}, want: match{Labels: map[string]string{}, Annotations: map[string]string{}}},
		{
			name:    "sonoff ZBDongle-P on ttyUSB0",
			devices: []usbtest.FixtureDevice{piHub(), usbtest.SonoffZBDongleP()},
			want: match{Labels: zigbee, Annotations: map[string]string{
				"nodeagent.dev/zigbee-device":      sonoffByID,
				"nodeagent.dev/zigbee-description": "Sonoff ZBDongle-P (CC2652P)",
			}, Matches: []string{"zigbee/1-1.3/Sonoff ZBDongle-P (CC2652P)"}},
		},
		{
			name:    "conbee II on ttyACM0",
			devices: []usbtest.FixtureDevice{piHub(), usbtest.ConBeeII()},
			want: match{Labels: zigbee, Annotations: map[string]string{
				"nodeagent.dev/zigbee-device":      conbeeByID,
				"nodeagent.dev/zigbee-description": "ConBee II",
			}, Matches: []string{"zigbee/1-1.2/ConBee II"}},
		},
		{
			name:    "CP2102 cable shares 10c4:ea60 but is no coordinator",
			devices: []usbtest.FixtureDevice{piHub(), usbtest.CP2102Cable()},
			want:    match{Labels: map[string]string{}, Annotations: map[string]string{}},
		},
		{
			name:    "two dongles and a cable",
			devices: []usbtest.FixtureDevice{piHub(), usbtest.SonoffZBDongleP(), usbtest.ConBeeII(), usbtest.CP2102Cable()},
			want: match{Labels: zigbee, Annotations: map[string]string{
				"nodeagent.dev/zigbee-device":      conbeeByID + "," + sonoffByID,
				"nodeagent.dev/zigbee-description": "ConBee II; Sonoff ZBDongle-P (CC2652P)",
			}, Matches: []string{"zigbee/1-1.2/ConBee II", "zigbee/1-1.3/Sonoff ZBDongle-P (CC2652P)"}},
		},
		{
			name:    "no udev: the /dev node stands in for by-id",
			devices: []usbtest.FixtureDevice{func() usbtest.FixtureDevice { d := usbtest.ConBeeII(); d.NoByID = true; return d }()},
			want: match{Labels: zigbee, Annotations: map[string]string{
				"nodeagent.dev/zigbee-device":      "/dev/ttyACM0",
				"nodeagent.dev/zigbee-description": "ConBee II",
			}, Matches: []string{"zigbee/1-1.2/ConBee II"}},
		},
	}
	rules := defaultRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devices, err := usb.Scan(usbtest.Tree(t, tt.devices...))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarize(usb.Match(devices, rules))); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	sonoff := usb.Device{VendorID: "10c4", ProductID: "ea60", Manufacturer: "ITead", Product: "Sonoff Zigbee 3.0 USB Dongle Plus", Serial: "ab/12"}
	tests := []struct {
		name string
		m    config.USBMatch
		want bool
	}{
		{name: "ids only", m: config.USBMatch{VendorID: "10c4", ProductID: "ea60"}, want: true},
		{name: "ids in upper case", m: config.USBMatch{VendorID: "10C4", ProductID: "EA60"}, want: true},
		{name: "other product id", m: config.USBMatch{VendorID: "10c4", ProductID: "ea61"}, want: false},
		{name: "manufacturer glob any case", m: config.USBMatch{VendorID: "10c4", ProductID: "ea60", Manufacturer: "itead*"}, want: true},
		{name: "product glob misses", m: config.USBMatch{VendorID: "10c4", ProductID: "ea60", Product: "*V2*"}, want: false},
		{name: "serial glob crosses slash", m: config.USBMatch{VendorID: "10c4", ProductID: "ea60", Serial: "ab*"}, want: true},
		{name: "malformed glob never matches", m: config.USBMatch{VendorID: "10c4", ProductID: "ea60", Product: "[x"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := usb.Matches(sonoff, tt.m); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchUserRules(t *testing.T) {
	cable := usb.Device{Name: "1-1.4", VendorID: "10c4", ProductID: "ea60", Product: "CP2102 USB to UART Bridge Controller", TTY: "ttyUSB1"}
	rules := []config.USBRule{
		{Name: "ups", Labels: map[string]string{"ups": "true", "zigbee": "false"}, Annotations: map[string]string{"example.com/ups": "apc"},
			Match: []config.USBMatch{{VendorID: "10c4", ProductID: "ea60", Product: "CP2102*"}}},
		// A later rule never overrides a label an earlier one set.
		{Name: "serial", Labels: map[string]string{"zigbee": "maybe", "serial": "true"}, Match: []config.USBMatch{{VendorID: "10c4", ProductID: "ea60"}}},
	}
	want := match{
		Labels: map[string]string{"ups": "true", "zigbee": "false", "serial": "true"},
		Annotations: map[string]string{
			"example.com/ups": "apc", "nodeagent.dev/ups-device": "/dev/ttyUSB1", "nodeagent.dev/serial-device": "/dev/ttyUSB1",
			"nodeagent.dev/ups-description":    "CP2102 USB to UART Bridge Controller",
			"nodeagent.dev/serial-description": "CP2102 USB to UART Bridge Controller",
		},
		Matches: []string{"ups/1-1.4/CP2102 USB to UART Bridge Controller", "serial/1-1.4/CP2102 USB to UART Bridge Controller"},
	}
	if diff := cmp.Diff(want, summarize(usb.Match([]usb.Device{cable}, rules))); diff != "" {
		t.Errorf("Match (-want +got):\n%s", diff)
	}
}

func TestResultEqualIgnoresDeviceNumber(t *testing.T) {
	rules := defaultRules(t)
	d := usb.Device{Name: "1-1.2", VendorID: "1cf1", ProductID: "0030", TTY: "ttyACM0", DevNum: 3}
	replugged := d
	replugged.DevNum = 7
	moved := d
	moved.TTY = "ttyACM1"
	a := usb.Match([]usb.Device{d}, rules)
	if !a.Equal(usb.Match([]usb.Device{replugged}, rules)) {
		t.Error("a re-plug with a new device number counts as a change")
	}
	if a.Equal(usb.Match([]usb.Device{moved}, rules)) {
		t.Error("a new tty path does not count as a change")
	}
	if a.Equal(usb.Match(nil, rules)) {
		t.Error("an unplug does not count as a change")
	}
}
