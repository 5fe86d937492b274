package usb_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

// watch runs a Watcher on root and returns the channel of its callbacks.
func watch(t *testing.T, root host.Root, opts usb.Options) <-chan usb.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan usb.Result, 1000)
	done := make(chan error, 1)
	w := usb.NewWatcher(root, defaultRules(t), opts, host.RealClock{}, zaptest.NewLogger(t))
	go func() { done <- w.Run(ctx, func(r usb.Result) { out <- r }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return out
}

// next waits for the next callback.
func next(t *testing.T, ch <-chan usb.Result, within time.Duration) usb.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("no usb change within %s", within)
		return usb.Result{}
	}
}

func zigbeeDevice(r usb.Result) string { return r.Annotations["nodeagent.dev/zigbee-device"] }

func TestWatcherFollowsPlugAndUnplug(t *testing.T) {
	root := usbtest.Tree(t) // no /dev/serial yet: the watch must start at /dev
	// The debounce is also how long an incomplete device is waited for: it
	// must stay far above the fixture's UdevLag even on a loaded machine, or
	// a late by-id link is published as /dev/ttyUSB0 by design.
	ch := watch(t, root, usb.Options{Debounce: 500 * time.Millisecond, Resync: time.Hour})
	if got := next(t, ch, 5*time.Second); len(got.Labels) != 0 {
		t.Fatalf("initial labels = %v, want none", got.Labels)
	}
	sonoff := usbtest.SonoffZBDongleP()
	for round := range 3 { // rounds 2 and 3 need the watch re-armed on a new /dev/serial
		// A plain cable changes nothing, so it must not produce a callback:
		// the next one has to be the dongle's.
		usbtest.Plug(t, root, usbtest.CP2102Cable())
		usbtest.Plug(t, root, sonoff)
		got := next(t, ch, 5*time.Second)
		if diff := cmp.Diff(map[string]string{"zigbee": "true"}, got.Labels); diff != "" {
			t.Fatalf("round %d: labels after plug (-want +got):\n%s", round, diff)
		}
		if zigbeeDevice(got) != sonoff.ByIDPath() {
			t.Errorf("round %d: device annotation = %q, want %q", round, zigbeeDevice(got), sonoff.ByIDPath())
		}
		usbtest.Unplug(t, root, sonoff)
		usbtest.Unplug(t, root, usbtest.CP2102Cable())
		if got := next(t, ch, 5*time.Second); len(got.Labels) != 0 || len(got.Annotations) != 0 {
			t.Fatalf("round %d: after unplug labels=%v annotations=%v, want none", round, got.Labels, got.Annotations)
		}
		if _, err := os.Stat(root.Path("/dev/serial")); !os.IsNotExist(err) {
			t.Fatalf("round %d: /dev/serial still there (err=%v); the test would not cover re-arming", round, err)
		}
	}
}

func TestWatcherDebouncesFlaps(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := usb.OptionsFrom(f.USB) // the shipped debounce
	opts.Uevents, opts.Resync = false, time.Hour
	debounce := opts.Debounce
	root := usbtest.Tree(t)
	ch := watch(t, root, opts)
	next(t, ch, 5*time.Second)
	dongle := usbtest.ConBeeII()
	start := time.Now()
	for i := range 20 { // 20 plug/unplug flaps within 2 s, ending plugged in
		usbtest.Unplug(t, root, dongle)
		usbtest.Plug(t, root, dongle)
		// Pacing against the start, not waiting for a condition.
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 100 * time.Millisecond)))
	}
	flapped := time.Since(start)
	// Collect changes until none came for two debounce periods; a loaded
	// machine may stretch a flap past the debounce once, so allow two.
	var changes []usb.Result
	for quiet := false; !quiet; {
		select {
		case r := <-ch:
			changes = append(changes, r)
		case <-time.After(2 * debounce):
			quiet = true
		}
	}
	t.Logf("20 flaps took %s; %d change(s) published", flapped, len(changes))
	if len(changes) == 0 || len(changes) > 2 {
		t.Fatalf("got %d changes for 20 flaps, want 1 or 2", len(changes))
	}
	if got := zigbeeDevice(changes[len(changes)-1]); got != dongle.ByIDPath() {
		t.Errorf("settled device = %q, want %q", got, dongle.ByIDPath())
	}
}

func TestWatcherResyncFindsDevicesWithoutTTY(t *testing.T) {
	// A CC2531 whose driver is not bound has no tty and so makes no /dev
	// event; only the periodic resync can see it.
	root := usbtest.Tree(t)
	ch := watch(t, root, usb.Options{Debounce: 20 * time.Millisecond, Resync: 200 * time.Millisecond})
	next(t, ch, 5*time.Second)
	usbtest.Plug(t, root, usbtest.FixtureDevice{Name: "1-1.2", VendorID: "0451", ProductID: "16a8", DevNum: 3})
	got := next(t, ch, 5*time.Second)
	if diff := cmp.Diff(map[string]string{"nodeagent.dev/zigbee-description": "TI CC2531 (Z-Stack)"}, got.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

func TestWatcherStartsWithPluggedDevice(t *testing.T) {
	root := usbtest.Tree(t, usbtest.SonoffZBDongleP())
	ch := watch(t, root, usb.Options{})
	if got := next(t, ch, 5*time.Second); got.Labels["zigbee"] != "true" {
		t.Errorf("initial labels = %v, want zigbee=true", got.Labels)
	}
}

// A stick is published as soon as udev's by-id link exists, not a debounce
// later, and after a quiet debounce its unplug is published as fast.
func TestWatcherPublishesCompleteChangeAtOnce(t *testing.T) {
	const debounce = 3 * time.Second // far beyond any scan, even on a loaded machine
	root := usbtest.Tree(t)
	ch := watch(t, root, usb.Options{Debounce: debounce, Resync: time.Hour})
	if got := next(t, ch, 5*time.Second); !got.EventAt.IsZero() {
		t.Errorf("state at start has EventAt %s, want zero", got.EventAt)
	}
	sonoff := usbtest.SonoffZBDongleP()
	before := time.Now()
	usbtest.Plug(t, root, sonoff)
	got := next(t, ch, debounce/2)
	if zigbeeDevice(got) != sonoff.ByIDPath() {
		t.Errorf("device annotation after plug = %q, want %q", zigbeeDevice(got), sonoff.ByIDPath())
	}
	if got.EventAt.Before(before) || got.EventAt.After(time.Now()) {
		t.Errorf("EventAt %s is not between the plug (%s) and the publish", got.EventAt, before)
	}
	time.Sleep(debounce) // let the hold-off after the publish lapse: pacing, not a condition
	usbtest.Unplug(t, root, sonoff)
	if got := next(t, ch, debounce/2); len(got.Labels) != 0 {
		t.Errorf("labels after unplug = %v, want none", got.Labels)
	}
}

// No publish ever names a stick without its by-id link: the fixture makes
// the link usbtest.UdevLag after the tty, as udev does.
func TestWatcherPublishesStickWithItsByIDLink(t *testing.T) {
	const debounce = 100 * time.Millisecond
	root := usbtest.Tree(t)
	ch := watch(t, root, usb.Options{Debounce: debounce, Resync: time.Hour})
	next(t, ch, 5*time.Second)
	sonoff := usbtest.SonoffZBDongleP()
	for round := range 5 {
		usbtest.Plug(t, root, sonoff)
		if got := next(t, ch, 5*time.Second); zigbeeDevice(got) != sonoff.ByIDPath() {
			t.Fatalf("round %d: published device %q labels %v, want %q", round, zigbeeDevice(got), got.Labels, sonoff.ByIDPath())
		}
		usbtest.Unplug(t, root, sonoff)
		if got := next(t, ch, 5*time.Second); len(got.Labels) != 0 || len(got.Annotations) != 0 {
			t.Fatalf("round %d: after unplug labels=%v annotations=%v, want none", round, got.Labels, got.Annotations)
		}
	}
}

// A stick whose by-id link never comes (no udev) is published with its /dev
// node once the debounce has passed since its first event.
func TestWatcherPublishesStickWithoutByIDAfterDebounce(t *testing.T) {
	const debounce = 300 * time.Millisecond
	root := usbtest.Tree(t)
	ch := watch(t, root, usb.Options{Debounce: debounce, Resync: time.Hour})
	next(t, ch, 5*time.Second)
	conbee := usbtest.ConBeeII()
	conbee.NoByID = true
	usbtest.Plug(t, root, conbee)
	got := next(t, ch, 5*time.Second)
	if waited := time.Since(got.EventAt); waited < debounce {
		t.Errorf("published %s after the first event, want at least the debounce %s", waited, debounce)
	}
	if zigbeeDevice(got) != "/dev/ttyACM0" {
		t.Errorf("device annotation = %q, want /dev/ttyACM0", zigbeeDevice(got))
	}
}
