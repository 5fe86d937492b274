package deb

import (
	"context"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/procstat"
)

// testIdle watches the running daemon (nodeagentd, which `nodeagent run`
// handed over to) over the window and holds it to the RSS and CPU
// targets, without growth. The daemon here retries its k3s phase (no k3s
// assets); test/e2e measures joined daemons.
func testIdle(t *testing.T, n node, _ *pkgState) {
	ctx := context.Background()
	props := n.waitUnit(ctx, "the daemon running", 10*time.Second, func(m map[string]string) bool {
		return m["ActiveState"] == "active" && m["MainPID"] != "0"
	}, "ActiveState", "MainPID", "NRestarts", "StatusText")
	window, err := procstat.Window(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w, err := procstat.WatchFor(n.Path("/proc/"+props["MainPID"]), window)
	if err != nil {
		t.Fatalf("watching the idle daemon: %v", err)
	}
	t.Logf("idle %s in state %q: %s", w.Elapsed.Round(time.Second), props["StatusText"], w)
	for _, p := range w.Problems() {
		t.Errorf("idle daemon: %s", p)
	}
	if after, _ := n.unitProps(ctx, "NRestarts"); after["NRestarts"] != props["NRestarts"] {
		t.Errorf("the daemon restarted while idle: NRestarts %s -> %s", props["NRestarts"], after["NRestarts"])
	}
}
