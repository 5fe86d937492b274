package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/netnsrun"
)

// TestWaitAddrInNamespace waits, in a network namespace of its own, for an
// address that a second goroutine adds a moment later, as DHCP would; then
// for one that never comes.
func TestWaitAddrInNamespace(t *testing.T) {
	ns := newTestNS(t)
	want := netip.MustParseAddr("10.97.0.11")
	added := make(chan time.Time, 1)
	timer := time.AfterFunc(400*time.Millisecond, func() {
		at := time.Now()
		out, err := exec.Command("ip", "-n", ns, "addr", "add", want.String()+"/24", "dev", "lo").CombinedOutput()
		if err != nil {
			t.Errorf("adding the address: %v: %s", err, out)
		}
		added <- at
	})
	defer timer.Stop()
	start := time.Now()
	err := netnsrun.InNamed(ns, func() error { return WaitAddr(context.Background(), want, 20*time.Second) })
	if err != nil {
		t.Fatalf("WaitAddr: %v", err)
	}
	returned := time.Now()
	select {
	case at := <-added:
		if returned.Before(at) {
			t.Fatalf("WaitAddr returned before the address was added")
		}
		t.Logf("address added after %s, the wait returned %s later", at.Sub(start).Round(time.Millisecond), returned.Sub(at).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("WaitAddr returned, but the address was never added")
	}

	missing := netip.MustParseAddr("10.97.0.12")
	err = netnsrun.InNamed(ns, func() error { return WaitAddr(context.Background(), missing, 300*time.Millisecond) })
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "10.97.0.12 on a local interface (local addresses [") ||
		!strings.Contains(err.Error(), "10.97.0.11") {
		t.Errorf("WaitAddr for an address that never comes = %v, want a timeout naming it and the local addresses", err)
	}
}

// newTestNS creates a network namespace for the test and deletes it after.
func newTestNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatal("needs root to create a network namespace")
		}
		t.Skip("needs root to create a network namespace")
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "naid" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	})
	return name
}
