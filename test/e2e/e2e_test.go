package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHomelab is the scenario: three Pis on one machine join into
// one cluster and a fourth joins it as a k3s agent, with the firewall,
// disk, USB and quorum behaviour checked along the way, then node faults. The steps share one cluster, so a failed
// step stops the test.
func TestHomelab(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the .deb and boots four containers: not in -short")
	}
	if os.Geteuid() != 0 {
		requireOrSkip(t, "the end-to-end test needs root (containers, namespaces, loop devices)")
	}
	start := time.Now()
	// Registered first, the summary is the last thing the run prints: after
	// the containers' journals, so a CI log's tail names the failed step.
	sum := &summary{running: "setup"}
	t.Cleanup(func() { sum.log(t) })
	mem := startMemoryPeak(sum.current)
	t.Cleanup(func() { sum.add("memory", "measured", mem.stop()) })
	art := buildArtifacts(t)
	h := bootHomelab(t)
	sum.add("setup", "ok", fmt.Sprintf("deb built, 4 containers booted in %s", time.Since(start).Round(time.Millisecond)))
	step(t, sum, "network", func(t *testing.T) { checkNetwork(t, h) })
	step(t, sum, "hardware", func(t *testing.T) { checkHardware(t, h) })
	standin := k3sStandin(t)
	rs := startReleaseServer(t, h.lab.bridge, k3sVersion, standin)
	h.cluster = renderCluster(t, h.disk.UUID, rs.SHA256)
	step(t, sum, "release server", func(t *testing.T) { checkRelease(t, h, rs) })
	step(t, sum, "install", func(t *testing.T) { h.install(t, art) })
	sc := &scenario{h: h, rs: rs, sum: sum}
	step(t, sum, "join", sc.join)
	step(t, sum, "quorum before manifests", sc.checkGateOrder)
	step(t, sum, "hardware labels", sc.checkLabels)
	step(t, sum, "agent", sc.checkAgent)
	step(t, sum, "firewall", sc.checkFirewall)
	step(t, sum, "applied once", sc.checkAppliedOnce)
	step(t, sum, "workloads", sc.checkWorkloads)
	step(t, sum, "status --cluster", sc.checkClusterStatus)
	step(t, sum, "usb hotplug", sc.checkHotplug)
	step(t, sum, "zigbee to the agent", sc.zigbeeMoves)
	step(t, sum, "metrics", sc.checkMetrics)
	step(t, sum, "pi4-2 down", sc.pi42Down)
	step(t, sum, "one node down", sc.oneDown)
	step(t, sum, "two nodes down", sc.twoDown)
	step(t, sum, "recovery", sc.recover)
	sc.bench(t)
	step(t, sum, "rolling restart", sc.rollingRestart)
	step(t, sum, "idle", sc.idle)
	// After the idle measurement: a daemon that has just installed a new
	// k3s holds more memory for a while (see the README's idle figure).
	step(t, sum, "upgrade", sc.upgrade)
	step(t, sum, "broken upgrade", sc.brokenUpgrade)
	step(t, sum, "agent re-flashed", sc.rebuiltAgent)
	step(t, sum, "agent leave", sc.agentLeave)
	step(t, sum, "snapshots", sc.snapshots)
	step(t, sum, "restore", sc.restore)
	// Destructive, so last: cards re-flashed, a node removed for good.
	step(t, sum, "pi4-2 rebuilt", sc.rebuiltPi42)
	step(t, sum, "pi4-1 rebuilt", sc.rebuiltFirst)
	step(t, sum, "remove-node", sc.removeNode)
	step(t, sum, "pi4-2 replaced after removal", sc.replacedAfterRemoval)
}

// step runs one step as a subtest, records it in the summary, and stops
// the scenario when it fails.
func step(t *testing.T, sum *summary, name string, fn func(t *testing.T)) {
	t.Helper()
	start := time.Now()
	sum.begin(name)
	ok := t.Run(strings.ReplaceAll(name, " ", "_"), fn)
	result := "ok"
	if !ok {
		result = "FAILED"
	}
	sum.add("step "+name, result, time.Since(start).Round(time.Millisecond).String())
	if !ok {
		t.FailNow()
	}
	if name == os.Getenv("NODEAGENT_E2E_UNTIL") {
		t.Logf("NODEAGENT_E2E_UNTIL=%s: stopping after this step", name)
		t.SkipNow()
	}
}

// checkNetwork: every node reaches the others and the release server's
// address over the bridge, and nothing else is routed.
func checkNetwork(t *testing.T, h *homelab) {
	for _, n := range h.each() {
		for _, target := range append([]string{serverAddr}, nodeAddrs["pi4-1"], nodeAddrs["pi4-2"], nodeAddrs["pi5"]) {
			if _, err := n.exec("ping", "-c", "1", "-W", "5", target); err != nil {
				t.Errorf("%s cannot reach %s: %v", n.name, target, err)
			}
		}
		routes := n.mustExec(t, "ip", "-o", "route", "show")
		if strings.Contains(routes, "default") {
			t.Errorf("%s has a default route; the test subnet must be closed:\n%s", n.name, routes)
		}
	}
}

// checkHardware: pi5's blkid sees the run's disk by its label, pi4-2 sees
// the dongle's sysfs entry, and the other nodes do not.
func checkHardware(t *testing.T, h *homelab) {
	pi5 := h.nodes["pi5"]
	out := pi5.mustExec(t, "blkid", "-p", "-o", "export", "/dev/disk/by-uuid/"+h.disk.UUID)
	if !strings.Contains(out, "LABEL="+h.disk.Label) {
		t.Errorf("pi5: blkid of the bound loop device = %q, want LABEL=%s", out, h.disk.Label)
	}
	dongle := h.usb.Dir + "/sys/bus/usb/devices/" + h.usb.Dongle.Name + "/idVendor"
	if got := strings.TrimSpace(h.nodes["pi4-2"].mustExec(t, "cat", dongle)); got != h.usb.Dongle.VendorID {
		t.Errorf("pi4-2: dongle idVendor = %q, want %s", got, h.usb.Dongle.VendorID)
	}
	if _, err := h.nodes["pi4-1"].exec("test", "-e", dongle); err == nil {
		t.Errorf("pi4-1 sees pi4-2's dongle fixture")
	}
}

// checkRelease: the nodes download the checksum file from the bridge.
func checkRelease(t *testing.T, h *homelab, rs *releaseServer) {
	url := rs.URL + "/" + strings.ReplaceAll(k3sVersion, "+", "%2B") + "/sha256sum-amd64.txt"
	// The rootfs has no curl; bash's /dev/tcp is enough for one GET.
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%s; printf '%%s\r\n\r\n' "GET %s HTTP/1.0" >&3; timeout 10 cat <&3`,
		serverAddr, releasePort, strings.TrimPrefix(url, rs.URL))
	out := h.nodes["pi5"].mustExec(t, "timeout", "20", "bash", "-c", script)
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, "  k3s") {
		t.Errorf("GET %s from pi5:\n%s", url, out)
	}
}
