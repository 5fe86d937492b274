package e2e_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"
)

func TestPlugLabelsNodeUnplugRemoves(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	name, nw := createNode(t, client)
	root := usbtest.Tree(t)
	startAgent(t, srv.Metadata(), root, name, map[string]string{"site": "home"}, 100*time.Millisecond)
	nw.waitFor(t, 10*time.Second, "static label", hasLabel("site", "home"))
	handLabel(t, client, name, "room", "attic")

	dongle := usbtest.SonoffZBDongleP()
	usbtest.Plug(t, root, dongle)
	node := nw.waitFor(t, 10*time.Second, "zigbee=true", hasLabel("zigbee", "true"))
	want := map[string]string{
		"nodeagent.dev/zigbee-device":      dongle.ByIDPath(),
		"nodeagent.dev/zigbee-description": "Sonoff ZBDongle-P (CC2652P)",
		kube.OwnedLabelsAnnotation:         "site,zigbee",
		kube.OwnedAnnotationsAnnotation:    "nodeagent.dev/zigbee-description,nodeagent.dev/zigbee-device",
	}
	if diff := cmp.Diff(want, node.Annotations); diff != "" {
		t.Errorf("annotations after plug (-want +got):\n%s", diff)
	}

	usbtest.Unplug(t, root, dongle)
	node = nw.waitFor(t, 10*time.Second, "zigbee removed", lacksLabel("zigbee"))
	if diff := cmp.Diff(map[string]string{"kubernetes.io/arch": "arm64", "room": "attic", "site": "home"}, node.Labels); diff != "" {
		t.Errorf("labels after unplug (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{kube.OwnedLabelsAnnotation: "site"}, node.Annotations); diff != "" {
		t.Errorf("annotations after unplug (-want +got):\n%s", diff)
	}
}

func TestFlapsWriteAtMostTwice(t *testing.T) {
	debounce := shippedDebounce(t)
	srv := server.Get(t)
	client := srv.Client()
	name, nw := createNode(t, client)
	root := usbtest.Tree(t)
	a := startAgent(t, srv.Metadata(), root, name, nil, debounce)
	waitCond(t, 10*time.Second, "initial reconcile", func() bool { return a.reconciles.Load() >= 1 })
	if n := nw.writes.Load(); n != 0 {
		t.Fatalf("%d writes before any device: an empty desired set must write nothing", n)
	}

	dongle := usbtest.ConBeeII()
	start := time.Now()
	// One flap every 100ms, paced against the start so slow file
	// operations do not stretch the 2 s.
	for i := range 20 {
		usbtest.Plug(t, root, dongle)
		time.Sleep(time.Until(start.Add(time.Duration(2*i+1) * 50 * time.Millisecond)))
		usbtest.Unplug(t, root, dongle)
		time.Sleep(time.Until(start.Add(time.Duration(2*i+2) * 50 * time.Millisecond)))
	}
	usbtest.Plug(t, root, dongle)
	flapped := time.Since(start)
	node := nw.waitFor(t, 15*time.Second, "zigbee=true", hasLabel("zigbee", "true"))
	if got := node.Annotations["nodeagent.dev/zigbee-device"]; got != dongle.ByIDPath() {
		t.Errorf("device annotation = %q, want %q", got, dongle.ByIDPath())
	}
	// Let any late change land before counting: two debounce periods of
	// quiet on the watch.
	for quiet := false; !quiet; {
		select {
		case <-nw.events:
		case <-time.After(2 * debounce):
			quiet = true
		}
	}
	writes := nw.writes.Load()
	t.Logf("20 flaps in %s with debounce %s: %d node write(s), %d reconcile(s)", flapped.Round(time.Millisecond), debounce, writes, a.reconciles.Load())
	if writes > 2 {
		t.Errorf("%d node writes for 20 flaps, want at most 2", writes)
	}
}

// waitCond polls cond until it holds or within passes.
func waitCond(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
