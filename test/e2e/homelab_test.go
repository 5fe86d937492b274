package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// The Pis and their addresses on the test subnet: the architecture's
// three servers, and a fourth Pi joining as a k3s agent (issue #18).
var nodeAddrs = map[string]string{"pi4-1": "10.77.0.11", "pi4-2": "10.77.0.12", "pi5": "10.77.0.13", agentName: "10.77.0.14"}

// nodeOrder are the servers; most steps are about them and their etcd.
var nodeOrder = []string{"pi4-1", "pi4-2", "pi5"}

// agentName is the fourth Pi, `role: agent` in the cluster file.
const agentName = "pi4-3"

// k3sVersion is the release the cluster file asks for; the release server
// serves the stand-in under it.
const k3sVersion = "v1.33.5+k3s1"

// homelab is the run: the network, the four nodes and their hardware.
type homelab struct {
	t        *testing.T // TestHomelab's: containers live as long as the run
	lab      *lab
	rootfs   string
	nodes    map[string]*node
	boots    map[string]int // containers booted per node, for unique machine names
	disk     loopDisk
	usb      *usbFixture // pi4-2's USB bus, with the Zigbee dongle
	agentUSB *usbFixture // the agent's, empty until the dongle moves there
	cluster  []byte      // the rendered cluster file
	token    []byte      // the k3s server token every server gets
	agentTk  []byte      // the agent token every node gets
	deb      string      // path of the built .deb
	// retired holds the journals of containers stopped for good (a
	// rebuilt node's old SD card, a removed node) until saveJournals.
	retired  string
	shutdown sync.Once
}

// each returns the servers whose container runs, in nodeOrder: a node
// stopped for good (removed, or between its wipe and its rebuild) is no
// longer part of the homelab.
func (h *homelab) each() []*node {
	out := make([]*node, 0, len(nodeOrder))
	for _, name := range nodeOrder {
		if n := h.nodes[name]; n != nil && n.c.Running() {
			out = append(out, n)
		}
	}
	return out
}

// all is each and, while its container runs, the agent.
func (h *homelab) all() []*node {
	out := h.each()
	if a := h.agent(); a != nil {
		out = append(out, a)
	}
	return out
}

// agent is the agent node while its container runs, else nil.
func (h *homelab) agent() *node {
	if n := h.nodes[agentName]; n != nil && n.c.Running() {
		return n
	}
	return nil
}

// bootHomelab wires the network, makes the hardware and boots the four
// containers (one after another: Boot reports failures with t.Fatal).
func bootHomelab(t *testing.T) *homelab {
	t.Helper()
	h := &homelab{t: t, lab: newLab(t), nodes: map[string]*node{}, boots: map[string]int{}}
	h.disk = newLoopDisk(t, "na-hd1-"+h.lab.id)
	h.usb = newUSBFixture(t)
	h.agentUSB = newUSBFixture(t)
	h.agentUSB.unplug(t)
	h.rootfs = nspawn.Rootfs(t)
	for _, name := range append(slices.Clone(nodeOrder), agentName) {
		h.nodes[name] = h.bootNode(name, h.lab.addNode(t, name, nodeAddrs[name]))
	}
	exposeDisk(t, h.nodes["pi5"], h.disk)
	return h
}

// bootNode boots a container for the node from the pristine rootfs on a
// fresh overlay, in the node's network namespace, with the node's name as
// hostname (as a Pi flashed for it) and its USB fixture (pi4-2's and the
// agent's). The machine
// name is unique per boot. Containers belong to TestHomelab, not to the
// step that boots them; the homelab's teardown is registered after each
// Boot, so it runs while every container still runs.
func (h *homelab) bootNode(name, netns string) *node {
	h.t.Helper()
	h.boots[name]++
	machine := name + "-" + h.lab.id
	if h.boots[name] > 1 {
		machine += fmt.Sprintf("-r%d", h.boots[name]-1)
	}
	opts := nspawn.Options{
		Name: machine, Hostname: name, Rootfs: h.rootfs, NetNSPath: netns, BootTimeout: 3 * time.Minute,
	}
	if f := h.usbOf(name); f != nil {
		opts.Binds = []nspawn.Bind{{Host: f.Dir}}
	}
	n := &node{name: name, addr: nodeAddrs[name], netns: netns, c: nspawn.Boot(h.t, opts)}
	h.t.Cleanup(h.teardown)
	return n
}

// teardown keeps the journals when the run failed (or NODEAGENT_E2E_LOGS
// asks for them) and stops every agent and k3s; it runs once, from the
// first of its cleanups to run.
func (h *homelab) teardown() {
	h.shutdown.Do(func() {
		if h.t.Failed() || os.Getenv("NODEAGENT_E2E_LOGS") != "" {
			h.saveJournals(h.t)
		}
		if h.retired != "" {
			_ = os.RemoveAll(h.retired)
		}
		h.stopAll()
	})
}

// usbOf is the USB fixture the node sees, nil for a node without one.
func (h *homelab) usbOf(name string) *usbFixture {
	switch name {
	case "pi4-2":
		return h.usb
	case agentName:
		return h.agentUSB
	}
	return nil
}

func renderCluster(t *testing.T, diskUUID, k3sSHA256 string) []byte {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "cluster.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, map[string]any{
		"Version": k3sVersion, "ReleaseBase": "http://" + serverAddr + ":" + releasePort,
		"Subnet": subnetCIDR, "Interface": nodeIface, "Addrs": nodeAddrs, "DiskUUID": diskUUID, "SHA256": k3sSHA256,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// install puts the cluster file, the token and pi4-2's USB drop-in in place,
// then installs the .deb in every node with starting withheld by
// policy-rc.d (which deb-systemd-invoke honours), so that the agents can be
// started together afterwards. The package still enables the unit.
func (h *homelab) install(t *testing.T, art artifacts) {
	t.Helper()
	dir := t.TempDir()
	tokenFile, agentFile := filepath.Join(dir, "token"), filepath.Join(dir, "agent-token")
	for _, f := range []string{tokenFile, agentFile} {
		if err := k3s.GenerateToken(f); err != nil {
			t.Fatal(err)
		}
	}
	h.token, h.agentTk, h.deb = mustRead(t, tokenFile), mustRead(t, agentFile), art.Deb
	for _, n := range h.all() {
		n.writeFile(t, "/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755)
		h.prepare(t, n)
	}
	h.parallel(t, "installing the .deb", (*node).installDeb)
	for _, n := range h.all() {
		n.mustExec(t, "rm", "-f", "/usr/sbin/policy-rc.d")
		h.checkInstalled(t, n)
	}
}

// prepare puts what a user puts on a freshly flashed card before
// installing the package: the cluster file, the tokens (the agent gets
// only the agent token), the USB drop-in and the .deb itself.
func (h *homelab) prepare(t *testing.T, n *node) {
	t.Helper()
	n.writeFile(t, "/etc/nodeagent/cluster.yaml", h.cluster, 0o644)
	h.standinSettings(t, n)
	if n.name != agentName {
		n.writeFile(t, "/etc/nodeagent/token", h.token, 0o600)
	}
	n.writeFile(t, "/etc/nodeagent/agent-token", h.agentTk, 0o600)
	if f := h.usbOf(n.name); f != nil {
		dropIn := fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/nodeagent run --usb-root %s\n", f.Dir)
		n.writeFile(t, "/etc/systemd/system/nodeagent.service.d/usb.conf", []byte(dropIn), 0o644)
	}
	n.writeFile(t, "/root/nodeagent.deb", mustRead(t, h.deb), 0o644)
	n.mustExec(t, "systemctl", "daemon-reload")
}

// installDeb is the user's `dpkg -i`: the package's postinst starts
// nodeagent.service unless policy-rc.d withholds it.
func (n *node) installDeb() error {
	_, err := n.exec("env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", "--force-confold", "/root/nodeagent.deb")
	return err
}

// checkInstalled: the package enabled the unit and the cluster file is valid.
func (h *homelab) checkInstalled(t *testing.T, n *node) {
	t.Helper()
	if got := strings.TrimSpace(n.unitProp("nodeagent.service", "UnitFileState")); got != "enabled" {
		t.Errorf("%s: nodeagent.service is %q after dpkg -i, want enabled", n.name, got)
	}
	n.mustExec(t, "nodeagent", "validate", "--config", "/etc/nodeagent/cluster.yaml")
}

// parallel runs fn on every node, the agent too, at once and fails on any
// error.
func (h *homelab) parallel(t *testing.T, what string, fn func(*node) error) {
	t.Helper()
	var wg sync.WaitGroup
	nodes := h.all()
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s on %s: %v", what, nodes[i].name, err)
		}
	}
}

// stopAll stops the agents and k3s on all nodes at once before the
// containers halt: halted one after another, the last etcd member would
// shut down without quorum and outlast nspawn's 20 s halt timeout.
func (h *homelab) stopAll() {
	var wg sync.WaitGroup
	for _, n := range h.all() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = n.exec("timeout", "20", "systemctl", "stop", "nodeagent.service", "k3s.service", "k3s-agent.service")
		}()
	}
	wg.Wait()
}

// saveJournals keeps every running node's journal, and those of the
// containers stopped for good, for a post-mortem.
func (h *homelab) saveJournals(t *testing.T) {
	dir := os.Getenv("NODEAGENT_E2E_LOGS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "nodeagent-e2e-logs-"); err != nil {
			t.Errorf("saving journals: %v", err)
			return
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("saving journals: %v", err)
		return
	}
	for _, n := range h.all() {
		if err := n.saveJournal(filepath.Join(dir, n.name+".journal")); err != nil {
			t.Errorf("saving the journal of %s: %v", n.name, err)
		}
	}
	if h.retired != "" {
		if err := copyFiles(h.retired, dir); err != nil {
			t.Errorf("saving the journals of retired containers: %v", err)
		}
	}
	t.Logf("journals of all nodes saved in %s", dir)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
