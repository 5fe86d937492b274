package usb_test

import (
	"os"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

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
