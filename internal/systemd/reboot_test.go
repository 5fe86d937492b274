package systemd

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// TestRebootInContainer asks a real systemd for the reboot nodeagent uses
// after a kernel command line change; nspawn ends with status 133, its
// "the container rebooted" (systemd-nspawn(1)).
func TestRebootInContainer(t *testing.T) {
	c := nspawn.Boot(t, nspawn.Options{PrivateNetwork: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := New(ctx, zaptest.NewLogger(t), c.Root(), WithBusSocket(c.BusSocket()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	if err := m.Reboot(ctx); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	code, err := c.WaitExit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code != 133 {
		t.Fatalf("systemd-nspawn exited with %d after the reboot, want 133 (reboot)\nconsole:\n%s", code, c.Console())
	}
	t.Logf("container rebooted: nspawn exited with 133 after %s", time.Since(start).Round(time.Millisecond))
}
