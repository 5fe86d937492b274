package usb_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

func TestParseUevent(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want usb.Uevent
		ok   bool
	}{
		{
			name: "usb device add",
			msg:  "add@/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3\x00ACTION=add\x00DEVPATH=/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3\x00SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00PRODUCT=10c4/ea60/100\x00SEQNUM=2210\x00",
			want: usb.Uevent{Action: "add", DevPath: "/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3", Subsystem: "usb"},
			ok:   true,
		},
		{name: "udev rebroadcast", msg: "libudev\x00\xfe\xed\xca\xfe", ok: false},
		{name: "garbage", msg: "hello", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := usb.ParseUevent([]byte(tt.msg))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseUevent (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatcherUeventTriggersRescan asks the real kernel for a tty uevent
// (writing "change" to a virtual tty's uevent file, which only re-announces
// the device) and checks that the watcher rescans on it: a device without a
// serial port, invisible to the /dev watch, is found long before the resync.
func TestWatcherUeventTriggersRescan(t *testing.T) {
	const trigger = "/sys/devices/virtual/tty/ptmx/uevent"
	if f, err := os.OpenFile(trigger, os.O_WRONLY, 0); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatalf("cannot trigger a kernel uevent: %v", err)
		}
		t.Skipf("cannot trigger a kernel uevent (needs root and a writable /sys): %v", err)
	} else {
		f.Close()
	}
	root := usbtest.Tree(t)
	ch := watch(t, root, usb.Options{Debounce: 20 * time.Millisecond, Resync: time.Hour, Uevents: true})
	next(t, ch, 5*time.Second)
	usbtest.Plug(t, root, usbtest.FixtureDevice{Name: "1-1.2", VendorID: "0451", ProductID: "16a8", DevNum: 3})
	// The socket is bound once Run has sent its first result; keep poking
	// until the rescan shows the device, as one uevent may race the bind.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := os.WriteFile(trigger, []byte("change"), 0); err != nil {
			t.Fatalf("triggering uevent: %v", err)
		}
		select {
		case got := <-ch:
			if got.Annotations["nodeagent.dev/zigbee-description"] != "TI CC2531 (Z-Stack)" {
				t.Errorf("annotations after uevent = %v", got.Annotations)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no rescan after kernel uevents")
		}
	}
}
