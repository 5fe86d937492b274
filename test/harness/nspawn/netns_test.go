package nspawn

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// TestBootInNetNS joins a network namespace the test made, as the
// multi-node tests do after wiring namespaces together with veth pairs.
func TestBootInNetNS(t *testing.T) {
	requireHost(t)
	ns := "na-test-" + randomHex(3)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v\n%s", err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "natest0", "type", "veth", "peer", "name", "natest1").CombinedOutput(); err != nil {
		t.Fatalf("adding veth pair: %v\n%s", err, out)
	}
	c := Boot(t, Options{NetNSPath: "/run/netns/" + ns})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.Exec(ctx, "ip", "-o", "link", "show", "natest0")
	if err != nil || !strings.Contains(out, "natest0") {
		t.Errorf("link natest0 in container: %q, %v; want the namespace's veth", out, err)
	}
}

// TestBenchBoot boots three containers at once, as the three-node
// end-to-end test does, and reports each boot time.
func TestBenchBoot(t *testing.T) {
	// Here, not only in Boot: a subtest's skip would leave this test to fail
	// on the missing boot times.
	rootfs := Rootfs(t)
	var mu sync.Mutex
	var times []string
	start := time.Now()
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"na-bench-1", "na-bench-2", "na-bench-3"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := Boot(t, Options{Name: name + "-" + randomHex(2), Rootfs: rootfs, PrivateNetwork: true})
				mu.Lock()
				times = append(times, c.BootTime().Round(time.Millisecond).String())
				mu.Unlock()
			})
		}
	})
	if len(times) != 3 {
		t.Fatalf("booted %d of 3 containers", len(times))
	}
	t.Logf("figure: 3 parallel boots: %s each, %s for all (incl. stop)",
		strings.Join(times, ", "), time.Since(start).Round(time.Millisecond))
	benchfig.Report(t, benchfig.Figure{Name: "3 containers booted at once (systemd-nspawn)", Value: strings.Join(times, ", ")})
}
