package e2e_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/internal/usb/usbtest"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// Targets of issue #21 with the shipped settings, from the first fixture
// event to the label change seen on an apiserver watch.
const (
	targetP50 = 200 * time.Millisecond
	targetP99 = 400 * time.Millisecond
)

// TestBenchPlugToLabel measures hotplug-to-label latency with the shipped
// usb settings over 100 plugs and 100 unplugs, each taken separately. The
// baseline, measured in the same run, is a bare label patch to the same
// watch. Plug includes usbtest.UdevLag: the label waits for udev's by-id
// link.
func TestBenchPlugToLabel(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark: 100 plug cycles")
	}
	const plugs = 100
	debounce := shippedDebounce(t)
	srv := server.Get(t)
	client := srv.Client()

	baseName, baseWatch := createNode(t, client)
	var baseline []time.Duration
	for i := range plugs {
		value := []string{"a", "b"}[i%2]
		patch := []byte(`{"metadata":{"labels":{"zigbee":"` + value + `"}}}`)
		baseline = append(baseline, timeTo(t, baseWatch, "baseline label", hasLabel("zigbee", value), func() {
			if _, err := client.CoreV1().Nodes().Patch(t.Context(), baseName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}))
	}

	name, nw := createNode(t, client)
	root := usbtest.Tree(t)
	startAgent(t, srv.Metadata(), root, name, nil, debounce)
	dongle := usbtest.SonoffZBDongleP()
	var plugged, unplugged []time.Duration
	for range plugs {
		plugged = append(plugged, timeTo(t, nw, "zigbee=true", hasLabel("zigbee", "true"), func() { usbtest.Plug(t, root, dongle) }))
		holdOff(debounce)
		unplugged = append(unplugged, timeTo(t, nw, "zigbee removed", lacksLabel("zigbee"), func() { usbtest.Unplug(t, root, dongle) }))
		holdOff(debounce)
	}

	b50, b99 := percentiles(baseline)
	for _, m := range []struct {
		what string
		ds   []time.Duration
	}{{"plug", plugged}, {"unplug", unplugged}} {
		p50, p99 := percentiles(m.ds)
		t.Logf("%s-to-label over %d, debounce %s: p50 %s p99 %s; baseline patch-to-watch p50 %s p99 %s; p50/baseline p50 = %.1f",
			m.what, plugs, debounce, p50, p99, b50, b99, float64(p50)/float64(b50))
		met := p50 <= targetP50 && p99 <= targetP99
		benchfig.Report(t, benchfig.Figure{
			Name:     fmt.Sprintf("usb %s → label on a watch (shipped debounce %s)", m.what, debounce),
			Value:    fmt.Sprintf("p50 %s, p99 %s", p50, p99),
			Target:   fmt.Sprintf("p50 ≤ %s, p99 ≤ %s", targetP50, targetP99),
			Baseline: fmt.Sprintf("bare label patch → watch p50 %s", b50),
			Met:      benchfig.Met(met),
		})
		// The machine is shared with other test packages: the median must
		// meet its target (5× headroom), but the tail — the second-worst of
		// 100 — fails only far beyond it, on a regression rather than on a
		// neighbour's load. The summary table shows a plain miss.
		if p50 > targetP50 || p99 > 2*targetP99 {
			t.Errorf("%s: p50 %s p99 %s, target p50 <= %s and p99 <= %s (fails beyond %s)", m.what, p50, p99, targetP50, targetP99, 2*targetP99)
		}
	}
}

// shippedDebounce is usb.debounce as the agent takes it from the built-in
// cluster file.
func shippedDebounce(t testing.TB) time.Duration {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return usb.OptionsFrom(f.USB).Debounce
}

// timeTo runs act and returns how long until the watch shows a Node that
// satisfies ok.
func timeTo(t testing.TB, nw *nodeWatch, what string, ok func(*corev1.Node) bool, act func()) time.Duration {
	t.Helper()
	start := time.Now()
	act()
	nw.waitFor(t, 10*time.Second, what, ok)
	return time.Since(start)
}

// holdOff lets the watcher's hold-off after a published change lapse, as
// between a person's plug and unplug, so each step is measured as a first
// change. Pacing the fixture, not waiting for a condition.
func holdOff(debounce time.Duration) { time.Sleep(debounce + 50*time.Millisecond) }

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*50/100].Round(100 * time.Microsecond), s[len(s)*99/100].Round(100 * time.Microsecond)
}
