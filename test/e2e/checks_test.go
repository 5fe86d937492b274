package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// checkGateOrder reads every agent's journal: on each server the quorum
// phase finished before its manifests phase started, and no manifests were
// applied before that.
func (sc *scenario) checkGateOrder(t *testing.T) {
	journals := map[string][]entry{}
	poll(t, "every server's quorum phase done and manifests applied, in the journals", journalLag, time.Second, func() error {
		applied := false
		for _, n := range sc.h.each() {
			entries, err := n.agentJournal()
			if err != nil {
				return err
			}
			if _, ok := first(entries, sc.started, "phase done", "quorum"); !ok {
				return fmt.Errorf("%s: no 'phase done' for the quorum phase in the journal", n.name)
			}
			applied = applied || len(all(entries, sc.started, "manifests applied")) > 0
			journals[n.name] = entries
		}
		if !applied {
			return fmt.Errorf("no node logged 'manifests applied'")
		}
		return nil
	})
	for _, n := range sc.h.each() {
		entries := journals[n.name]
		gate, _ := first(entries, sc.started, "phase done", "quorum")
		if m, ok := first(entries, sc.started, "phase started", "manifests"); ok && m.Time.Before(gate.Time) {
			t.Errorf("%s: manifests phase started at %s, before the quorum gate opened at %s", n.name, m.Time, gate.Time)
		}
		for _, a := range all(entries, sc.started, "manifests applied") {
			if a.Time.Before(gate.Time) {
				t.Errorf("%s: manifests applied at %s, before the quorum gate opened at %s", n.name, a.Time, gate.Time)
			}
		}
	}
}

// checkLabels: zigbee=true only on pi4-2, storage-type=hdd only on pi5,
// whose disk is mounted at /mnt/hd1 with the layout of the cluster file.
func (sc *scenario) checkLabels(t *testing.T) {
	want := map[string]map[string]string{
		"pi4-1": {},
		"pi4-2": {"zigbee": "true"},
		"pi5":   {"storage": "true", "storage-type": "hdd"},
	}
	for _, n := range sc.h.each() {
		poll(t, n.name+" hardware labels", time.Minute, pollEvery, func() error {
			got, err := hardwareLabels(n)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want[n.name], got); diff != "" {
				return fmt.Errorf("%s labels (-want +got):\n%s", n.name, diff)
			}
			return nil
		})
	}
	pi5 := sc.h.nodes["pi5"]
	out := strings.Fields(pi5.mustExec(t, "findmnt", "-n", "-o", "SOURCE,FSTYPE", "/mnt/hd1"))
	if diff := cmp.Diff([]string{sc.h.disk.Dev, "ext4"}, out); diff != "" {
		t.Errorf("pi5 /mnt/hd1 mount (-want +got):\n%s", diff)
	}
	if opts := pi5.mustExec(t, "findmnt", "-n", "-o", "OPTIONS", "/mnt/hd1"); !strings.Contains(opts, "nosuid") || !strings.Contains(opts, "nodev") {
		t.Errorf("pi5 /mnt/hd1 mounted with %q, want nosuid and nodev", strings.TrimSpace(opts))
	}
	got := strings.Fields(pi5.mustExec(t, "stat", "-c", "%n:%u:%g:%a", "/mnt/hd1/Library", "/mnt/hd1/Files", "/mnt/hd1/backups"))
	wantDirs := []string{"/mnt/hd1/Library:1000:1000:750", "/mnt/hd1/Files:1000:1000:750", "/mnt/hd1/backups:0:0:700"}
	if diff := cmp.Diff(wantDirs, got); diff != "" {
		t.Errorf("pi5 directories on the disk (-want +got):\n%s", diff)
	}
}

// hardwareLabels are the node's zigbee and storage* labels as nodeagent
// owns them (from `nodeagent status`).
func hardwareLabels(n *node) (map[string]string, error) {
	st, err := n.status()
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for k, v := range st.Labels {
		if k == "zigbee" || strings.HasPrefix(k, "storage") {
			got[k] = v
		}
	}
	return got, nil
}

// checkFirewall: UFW active with a default deny on every node, nodeagent's
// rules in place without drift, the etcd ports open to the LAN (peer
// traffic flows, as three healthy voters prove), and the test's block gone.
func (sc *scenario) checkFirewall(t *testing.T) {
	for _, n := range sc.h.each() {
		out := n.mustExec(t, "ufw", "status", "verbose")
		if !strings.Contains(out, "Status: active") || !strings.Contains(out, "deny (incoming)") {
			t.Errorf("%s: ufw not active with default deny:\n%s", n.name, out)
		}
		if !strings.Contains(out, "2380") {
			t.Errorf("%s: no rule for etcd peers (2380):\n%s", n.name, out)
		}
		if strings.Contains(out, "e2e block") {
			t.Errorf("%s: the test's block rule is still there:\n%s", n.name, out)
		}
		st, err := n.status()
		if err != nil {
			t.Fatal(err)
		}
		if !st.Firewall.Active || st.Firewall.OwnedRules == 0 || st.Firewall.Drift != 0 {
			t.Errorf("%s: firewall status %+v, want active, owned rules, no drift", n.name, st.Firewall)
		}
	}
}

// checkAppliedOnce: exactly one server created the objects; another pass of
// every agent (the cluster file touched) re-creates and rewrites nothing.
func (sc *scenario) checkAppliedOnce(t *testing.T) {
	creators := map[string]int{}
	gate := "the nodes of the new workloads Ready at once"
	for _, n := range sc.h.each() {
		entries, err := n.agentJournal()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all(entries, sc.started, "manifests applied") {
			if c := createdCount(e); c > 0 {
				creators[n.name] += c
			}
		}
		// Every node comes up here: creating a workload without its
		// node would be the placement gate failing.
		for _, e := range all(entries, sc.started, "creating workloads before their nodes are Ready") {
			t.Errorf("%s: %s", n.name, e.Fields["NOTE"])
		}
		for _, e := range all(entries, sc.started, "waited for the new workloads' nodes") {
			gate = fmt.Sprintf("%s waited %s for %s before creating the workloads", n.name, e.Fields["WAITED"], e.Fields["NODES"])
		}
	}
	if len(creators) != 1 {
		t.Errorf("nodes that created objects: %v, want exactly one", creators)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before, _, err := sc.h.nodes["pi4-1"].inventorySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 {
		t.Fatal("the inventory lists no objects")
	}
	sc.snapshot = before
	since := time.Now()
	for _, n := range sc.h.each() {
		n.mustExec(t, "touch", "/etc/nodeagent/cluster.yaml")
	}
	for _, n := range sc.h.each() {
		sc.waitPass(t, n, since)
	}
	after, _, err := sc.h.nodes["pi4-2"].inventorySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("objects changed by a second pass of every agent (-before +after):\n%s", diff)
	}
	sc.sum.add("applied once", "ok", fmt.Sprintf("%d objects, created by %v, unchanged by a second pass; %s", len(before), creators, gate))
}

// waitPass waits for the node's agent to finish its manifests phase (done
// or failed: objects of kinds no chart installed stay pending) after since.
func (sc *scenario) waitPass(t *testing.T, n *node, since time.Time) {
	poll(t, n.name+" agent pass after touching the cluster file", 3*time.Minute, pollEvery, func() error {
		entries, err := n.agentJournal()
		if err != nil {
			return err
		}
		if _, ok := first(entries, since, "phase done", "manifests"); ok {
			return nil
		}
		if _, ok := first(entries, since, "phase failed", "manifests"); ok {
			return nil
		}
		return fmt.Errorf("no manifests phase finished since %s", since.Format(time.TimeOnly))
	})
}

// checkHotplug: unplugging the dongle on pi4-2 removes zigbee=true,
// plugging it back restores it.
func (sc *scenario) checkHotplug(t *testing.T) {
	pi42 := sc.h.nodes["pi4-2"]
	for _, tc := range []struct {
		name   string
		change func(*testing.T)
		want   map[string]string
	}{
		{"unplug", sc.h.usb.unplug, map[string]string{}},
		{"plug", sc.h.usb.plug, map[string]string{"zigbee": "true"}},
	} {
		start := time.Now()
		tc.change(t)
		poll(t, "pi4-2 labels after "+tc.name, time.Minute, 500*time.Millisecond, func() error {
			got, err := hardwareLabels(pi42)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				return fmt.Errorf("labels (-want +got):\n%s", diff)
			}
			return nil
		})
		sc.sum.add("usb "+tc.name, "ok", "label followed in "+time.Since(start).Round(time.Millisecond).String())
	}
}
