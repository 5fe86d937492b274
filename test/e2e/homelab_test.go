package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// The three Pis and their addresses on the test subnet.
var nodeAddrs = map[string]string{"pi4-1": "10.77.0.11", "pi4-2": "10.77.0.12", "pi5": "10.77.0.13"}

var nodeOrder = []string{"pi4-1", "pi4-2", "pi5"}

// k3sVersion is the release the cluster file asks for; the release server
// serves the stand-in under it.
const k3sVersion = "v1.33.5+k3s1"

// homelab is the run: the network, the three nodes and their hardware.
type homelab struct {
	lab     *lab
	nodes   map[string]*node
	disk    loopDisk
	usb     *usbFixture
	cluster []byte // the rendered cluster file
}

func (h *homelab) each() []*node {
	out := make([]*node, 0, len(nodeOrder))
	for _, name := range nodeOrder {
		out = append(out, h.nodes[name])
	}
	return out
}

// bootHomelab wires the network, makes the hardware and boots the three
// containers (one after another: Boot reports failures with t.Fatal).
func bootHomelab(t *testing.T) *homelab {
	t.Helper()
	h := &homelab{lab: newLab(t), nodes: map[string]*node{}}
	h.disk = newLoopDisk(t, "na-hd1-"+h.lab.id)
	h.usb = newUSBFixture(t)
	rootfs := nspawn.Rootfs(t)
	for _, name := range nodeOrder {
		ns := h.lab.addNode(t, name, nodeAddrs[name])
		opts := nspawn.Options{
			Name: name + "-" + h.lab.id, Rootfs: rootfs, NetNSPath: ns, BootTimeout: 3 * time.Minute,
		}
		if name == "pi4-2" {
			opts.Binds = []nspawn.Bind{{Host: h.usb.Dir}}
		}
		h.nodes[name] = &node{name: name, addr: nodeAddrs[name], netns: ns, c: nspawn.Boot(t, opts)}
	}
	// Registered after Boot, so it runs before the containers stop.
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("NODEAGENT_E2E_LOGS") != "" {
			h.saveJournals(t)
		}
		h.stopAll()
	})
	exposeDisk(t, h.nodes["pi5"], h.disk)
	return h
}

func renderCluster(t *testing.T, diskLabel, k3sSHA256 string) []byte {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "cluster.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, map[string]any{
		"Version": k3sVersion, "ReleaseBase": "http://" + serverAddr + ":" + releasePort,
		"Subnet": subnetCIDR, "Interface": nodeIface, "Addrs": nodeAddrs, "DiskLabel": diskLabel, "SHA256": k3sSHA256,
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
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := k3s.GenerateToken(tokenFile); err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	dropIn := fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/nodeagent run --usb-root %s\n", h.usb.Dir)
	for _, n := range h.each() {
		n.writeFile(t, "/etc/nodeagent/cluster.yaml", h.cluster, 0o644)
		n.writeFile(t, "/etc/nodeagent/token", token, 0o600)
		n.writeFile(t, "/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755)
		if n.name == "pi4-2" {
			n.writeFile(t, "/etc/systemd/system/nodeagent.service.d/usb.conf", []byte(dropIn), 0o644)
		}
		n.writeFile(t, "/root/nodeagent.deb", mustRead(t, art.Deb), 0o644)
		n.mustExec(t, "systemctl", "daemon-reload")
	}
	h.parallel(t, "installing the .deb", func(n *node) error {
		_, err := n.exec("env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", "--force-confold", "/root/nodeagent.deb")
		return err
	})
	for _, n := range h.each() {
		n.mustExec(t, "rm", "-f", "/usr/sbin/policy-rc.d")
		if got := strings.TrimSpace(n.unitProp("nodeagent.service", "UnitFileState")); got != "enabled" {
			t.Errorf("%s: nodeagent.service is %q after dpkg -i, want enabled", n.name, got)
		}
		n.mustExec(t, "nodeagent", "validate", "--config", "/etc/nodeagent/cluster.yaml")
	}
}

// parallel runs fn on every node at once and fails on any error.
func (h *homelab) parallel(t *testing.T, what string, fn func(*node) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodeOrder))
	for i, n := range h.each() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s on %s: %v", what, nodeOrder[i], err)
		}
	}
}

// stopAll stops the agents and k3s on all nodes at once before the
// containers halt: halted one after another, the last etcd member would
// shut down without quorum and outlast nspawn's 20 s halt timeout.
func (h *homelab) stopAll() {
	var wg sync.WaitGroup
	for _, n := range h.each() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = n.exec("timeout", "20", "systemctl", "stop", "nodeagent.service", "k3s.service")
		}()
	}
	wg.Wait()
}

// saveJournals keeps every node's journal for a post-mortem.
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
	for _, n := range h.each() {
		if err := n.saveJournal(dir); err != nil {
			t.Errorf("saving the journal of %s: %v", n.name, err)
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
