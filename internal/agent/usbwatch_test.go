package agent

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

// A rule added by a reload is watched at once: plugging a device only that
// rule matches queues a labels pass, without waiting for the resync.
func TestWatchUSBTakesReloadedRules(t *testing.T) {
	root := usbtest.Tree(t)
	a := &Agent{Deps: Deps{USBRoot: root, Clock: host.RealClock{}}, log: zaptest.NewLogger(t), usbUpdates: make(chan usbSettings, 1)}
	q := newQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := usb.Options{Debounce: 20 * time.Millisecond, Resync: time.Hour}
	done := make(chan error, 1)
	go func() { done <- a.watchUSB(ctx, q, usbSettings{opts: opts}, a.usbUpdates) }()
	waitWork(t, q, "the watcher's first scan") // Run reports the state at start

	stick := config.USBRule{Name: "stick", Labels: map[string]string{"stick": "true"},
		Match: []config.USBMatch{{VendorID: "0451", ProductID: "16a8"}}}
	offerUSBSettings(a.usbUpdates, usbSettings{rules: []config.USBRule{stick}, opts: opts})
	waitWork(t, q, "the restarted watcher's first scan")
	if at := a.hotplug.labelled(); !at.IsZero() {
		t.Errorf("a first scan, which no event started, noted a hotplug at %s", at)
	}
	before := time.Now()
	usbtest.Plug(t, root, usbtest.FixtureDevice{Name: "1-1.2", VendorID: "0451", ProductID: "16a8", DevNum: 3, TTY: "ttyACM0"})
	waitWork(t, q, "a labels pass for the device the new rule matches")
	// The metric's start: the plug's first event, noted for the labels pass.
	if at := a.hotplug.labelled(); at.Before(before) || at.After(time.Now()) {
		t.Errorf("hotplug noted at %s, want between the plug (%s) and now", at, before)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watchUSB did not return after cancel")
	}
}

func waitWork(t *testing.T, q *queue, what string) {
	t.Helper()
	select {
	case <-q.signal:
		if w := q.take(); w&workLabels == 0 {
			t.Fatalf("%s: queued %b, want a labels pass", what, w)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
	}
}

func TestHotplugClockKeepsTheFirstEvent(t *testing.T) {
	var h hotplugClock
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	h.changed(time.Time{}) // a resync
	h.changed(t0.Add(time.Second))
	h.changed(t0)
	h.changed(t0.Add(2 * time.Second))
	if got := h.labelled(); !got.Equal(t0) {
		t.Errorf("labelled = %s, want the first event %s", got, t0)
	}
	if got := h.labelled(); !got.IsZero() {
		t.Errorf("labelled again = %s, want zero: the change is in the labels", got)
	}
}
