package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The files of a k3s agent (k3s pkg/agent/config/config.go): the kubelet's
// kubeconfig is the agent's only credential; k3s.yaml is a server's.
const (
	kubeletKubeconfig = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"
	adminKubeconfig   = "/etc/rancher/k3s/k3s.yaml"
)

// agentJoined: the agent's nodeagent joined and is in step, and its Node,
// read through pi4-1's API server, is registered.
func (sc *scenario) agentJoined() error {
	a := sc.h.agent()
	if a == nil {
		return fmt.Errorf("%s is not running", agentName)
	}
	st, err := a.status()
	if err != nil {
		return err
	}
	text := a.unitProp("nodeagent.service", "StatusText")
	if !st.Joined || text != "in step" {
		return fmt.Errorf("%s: joined=%v (nodeagent: %s)", agentName, st.Joined, text)
	}
	node, err := sc.h.nodes["pi4-1"].nodeObject(context.Background(), agentName)
	if err != nil {
		return err
	}
	if node == nil {
		return fmt.Errorf("no Node %s yet", agentName)
	}
	return nil
}

// checkAgent: the fourth Pi is a k3s agent as the install script makes
// one: k3s-agent.service, the kubelet's credentials and no k3s.yaml, no
// etcd member; its Node carries the kubelet's labels, no control-plane
// role, and the static label nodeagent set with the node's own
// credentials; every server's firewall lets it in.
func (sc *scenario) checkAgent(t *testing.T) {
	a := sc.h.agent()
	if a == nil {
		t.Fatalf("%s is not running", agentName)
	}
	if got := a.unitProp("k3s-agent.service", "ActiveState"); got != "active" {
		t.Errorf("%s: k3s-agent.service is %s, want active", agentName, got)
	}
	if got := a.unitProp("k3s.service", "LoadState"); got != "not-found" {
		t.Errorf("%s: k3s.service is %s, want no server unit on an agent", agentName, got)
	}
	if _, err := a.exec("test", "-e", adminKubeconfig); err == nil {
		t.Errorf("%s has %s: an agent never gets the admin kubeconfig", agentName, adminKubeconfig)
	}
	a.mustExec(t, "test", "-s", kubeletKubeconfig)
	if _, err := a.exec("test", "-e", "/etc/nodeagent/token"); err == nil {
		t.Errorf("%s holds the server token; an agent gets the agent token only", agentName)
	}

	node, err := sc.h.nodes["pi4-1"].nodeObject(context.Background(), agentName)
	if err != nil || node == nil {
		t.Fatalf("Node %s: %v", agentName, err)
	}
	for k, v := range map[string]string{"homelab.example/tier": "worker", "node.kubernetes.io/instance-type": "k3s", "kubernetes.io/hostname": agentName} {
		if node.Labels[k] != v {
			t.Errorf("Node %s label %s=%q, want %q (labels %v)", agentName, k, node.Labels[k], v, node.Labels)
		}
	}
	for _, role := range []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd", "node-role.kubernetes.io/master"} {
		if _, ok := node.Labels[role]; ok {
			t.Errorf("Node %s has the server role label %s", agentName, role)
		}
	}
	if out := a.mustExec(t, "ufw", "status", "verbose"); !strings.Contains(out, "Status: active") || !strings.Contains(out, "deny (incoming)") {
		t.Errorf("%s: ufw not active with default deny:\n%s", agentName, out)
	}
	for _, n := range sc.h.each() {
		st, err := n.status()
		if err != nil {
			t.Fatal(err)
		}
		if err := healthyCluster(st, 3); err != nil {
			t.Errorf("%s: %v", n.name, err)
		}
		for _, m := range st.Etcd.Members {
			if strings.HasPrefix(m.Name, agentName+"-") {
				t.Errorf("%s lists an etcd member for the agent: %s", n.name, m.Name)
			}
		}
		rules := n.mustExec(t, "ufw", "status")
		for _, port := range []string{"10250/tcp", "8472/udp"} {
			if !ufwAllows(rules, port, nodeAddrs[agentName]) {
				t.Errorf("%s: no rule lets %s in on %s:\n%s", n.name, agentName, port, rules)
			}
		}
	}
	sc.sum.add("agent", "ok", fmt.Sprintf("%s joined as a k3s agent through the servers' supervisor, labels set with its own node credentials", agentName))
}

// ufwAllows: `ufw status` has an ALLOW rule for port from addr ("To
// Action From [# comment]", the action "ALLOW" or "ALLOW IN").
func ufwAllows(status, port, addr string) bool {
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == port && f[1] == "ALLOW" && (f[2] == addr || len(f) >= 4 && f[2] == "IN" && f[3] == addr) {
			return true
		}
	}
	return false
}

// zigbeeMoves: the stick unplugged from pi4-2 and plugged into the agent;
// the zigbee label follows it, set on the agent with its node credentials
// and withdrawn from pi4-2; then it goes back.
func (sc *scenario) zigbeeMoves(t *testing.T) {
	a, pi42 := sc.h.agent(), sc.h.nodes["pi4-2"]
	if a == nil {
		t.Fatalf("%s is not running", agentName)
	}
	start := time.Now()
	sc.h.usb.unplug(t)
	sc.h.agentUSB.plug(t)
	waitZigbee(t, a, pi42)
	moved := time.Since(start).Round(time.Millisecond)
	sc.h.agentUSB.unplug(t)
	sc.h.usb.plug(t)
	waitZigbee(t, pi42, a)
	sc.sum.add("zigbee to the agent", "ok", fmt.Sprintf("label followed the stick to %s in %s, and back", agentName, moved))
}

// waitZigbee waits until on carries zigbee=true and off does not, as each
// node's nodeagent reports its owned labels.
func waitZigbee(t *testing.T, on, off *node) {
	t.Helper()
	poll(t, "zigbee=true on "+on.name+" only", time.Minute, pollEvery, func() error {
		got, err := hardwareLabels(on)
		if err != nil {
			return err
		}
		if got["zigbee"] != "true" {
			return fmt.Errorf("%s: labels %v, want zigbee=true", on.name, got)
		}
		if got, err = hardwareLabels(off); err != nil {
			return err
		}
		if _, ok := got["zigbee"]; ok {
			return fmt.Errorf("%s still has zigbee: %v", off.name, got)
		}
		return nil
	})
}

// agentLeave: `nodeagent leave` on the agent cordons and drains it with
// its node credentials and, no node being allowed to delete a Node, labels
// it for the servers, then stops k3s-agent and nodeagent for good; a
// server's daemon deletes the Node; the servers keep three healthy voters. The
// container is retired: the later steps are the servers'.
func (sc *scenario) agentLeave(t *testing.T) {
	a := sc.h.agent()
	if a == nil {
		t.Fatalf("%s is not running", agentName)
	}
	start := time.Now()
	out, err := a.execFor(3*time.Minute, "nodeagent", "leave")
	if err != nil {
		t.Fatalf("%s: nodeagent leave: %v\n%s", agentName, err, out)
	}
	for _, unit := range []string{"k3s-agent.service", "nodeagent.service"} {
		if got := a.unitProp(unit, "ActiveState"); got != "inactive" {
			t.Errorf("%s: %s is %s after leave, want inactive", agentName, unit, got)
		}
		if got := a.unitProp(unit, "UnitFileState"); got != "disabled" {
			t.Errorf("%s: %s is %s after leave, want disabled", agentName, unit, got)
		}
	}
	if !strings.Contains(out, "nodeagent.dev/leave=requested") {
		t.Errorf("%s: leave does not say it asked the servers to delete its Node:\n%s", agentName, out)
	}
	// A server's daemon looks every 30 s and deletes the Node once the
	// stopped kubelet's heartbeat is a minute old.
	pi41 := sc.h.nodes["pi4-1"]
	poll(t, "Node "+agentName+" deleted by a server", 4*time.Minute, pollEvery, func() error {
		node, err := pi41.nodeObject(context.Background(), agentName)
		if err != nil {
			return err
		}
		if node != nil {
			return fmt.Errorf("Node %s still there (unschedulable %v)", agentName, node.Spec.Unschedulable)
		}
		return nil
	})
	left := time.Since(start).Round(time.Millisecond)
	for _, n := range sc.h.each() {
		st, err := n.status()
		if err != nil {
			t.Fatal(err)
		}
		if err := healthyCluster(st, 3); err != nil {
			t.Errorf("%s after the agent left: %v", n.name, err)
		}
	}
	sc.h.retire(t, a, "left")
	sc.sum.add("agent leave", "ok", fmt.Sprintf("%s drained; its Node, labelled for the servers, deleted by one %s after leave; 3 voters kept", agentName, left))
}

// agentStarted is when the agent's k3s-agent last started, 0 without an
// agent.
func (sc *scenario) agentStarted() time.Duration {
	if a := sc.h.agent(); a != nil {
		return a.monotonicProp("k3s-agent.service", "ExecMainStartTimestampMonotonic")
	}
	return 0
}

// checkAgentUpgradedLast: the agent swapped its k3s for the upgrade's,
// keeping the old one, only once every server was back on the new
// version ("servers one at a time, then agents").
func (sc *scenario) checkAgentUpgradedLast(t *testing.T, before time.Duration, sha, oldSHA string) {
	a := sc.h.agent()
	if a == nil {
		t.Fatalf("%s is not running", agentName)
	}
	poll(t, agentName+" upgraded to "+k3sUpgraded+" and in step", 5*time.Minute, pollEvery, func() error {
		if a.monotonicProp("k3s-agent.service", "ExecMainStartTimestampMonotonic") == before {
			return fmt.Errorf("k3s-agent not restarted yet; nodeagent: %s", a.unitProp("nodeagent.service", "StatusText"))
		}
		node, err := sc.h.nodes["pi4-1"].nodeObject(context.Background(), agentName)
		if err != nil || node == nil {
			return fmt.Errorf("Node %s: %v", agentName, err)
		}
		if v := node.Status.NodeInfo.KubeletVersion; v != k3sUpgraded {
			return fmt.Errorf("Node %s reports %q", agentName, v)
		}
		if st := a.unitProp("nodeagent.service", "StatusText"); st != "in step" {
			return fmt.Errorf("nodeagent: %s", st)
		}
		return nil
	})
	if got := a.sha256Of(t, "/usr/local/bin/k3s"); got != sha {
		t.Errorf("%s: k3s is %s, want the upgrade's %s", agentName, got, sha)
	}
	if got := a.sha256Of(t, "/usr/local/bin/k3s.previous"); got != oldSHA {
		t.Errorf("%s: k3s.previous is %s, want the replaced binary %s", agentName, got, oldSHA)
	}
	down := a.monotonicProp("k3s-agent.service", "ActiveExitTimestampMonotonic")
	for _, n := range sc.h.each() {
		if up := n.monotonicProp("k3s.service", "ActiveEnterTimestampMonotonic"); down < up {
			t.Errorf("%s stopped k3s-agent for the upgrade %s before %s's upgraded k3s was up",
				agentName, (up - down).Round(time.Millisecond), n.name)
		}
	}
}

// rebuiltAgent: the agent's SD card flashed anew (a new container of the
// same name and address) and the package installed as its owner would.
// The servers still hold the old card's node password, so k3s refuses the
// new one; nodeagent says so and what frees the name. `nodeagent
// remove-node` on a server deletes the old Node, and with it the password,
// and the agent joins by itself, its labels back.
func (sc *scenario) rebuiltAgent(t *testing.T) {
	h := sc.h
	old := h.agent()
	if old == nil {
		t.Fatalf("%s is not running", agentName)
	}
	h.retire(t, old, fmt.Sprintf("card-%d", h.boots[agentName]))
	n := h.bootNode(agentName, old.netns)
	h.nodes[agentName] = n
	n.clearFirewall(t)
	h.prepare(t, n)
	start := time.Now()
	if err := n.installDeb(); err != nil {
		t.Fatalf("%s: installing the .deb on the new card: %v", agentName, err)
	}
	h.checkInstalled(t, n)
	advice := "`nodeagent remove-node " + agentName + "`"
	poll(t, agentName+" says the servers refuse its node password", 4*time.Minute, pollEvery, func() error {
		if st := n.unitProp("nodeagent.service", "StatusText"); !strings.Contains(st, advice) {
			return fmt.Errorf("nodeagent: %s", st)
		}
		return nil
	})
	refusedAfter := time.Since(start).Round(time.Millisecond)
	pi41 := h.nodes["pi4-1"]
	waitRemovable(t, pi41, agentName)
	if out, err := pi41.execFor(removeNodeTimeout, "nodeagent", "remove-node", agentName); err != nil {
		t.Fatalf("remove-node %s: %v\n%s", agentName, err, out)
	}
	poll(t, agentName+" joined again", joinTimeout, pollEvery, func() error { return sc.agentJoined() })
	node, err := pi41.nodeObject(context.Background(), agentName)
	if err != nil || node == nil || node.Labels["homelab.example/tier"] != "worker" {
		t.Errorf("Node %s after the rebuild: %v (err %v), want its static label back", agentName, node, err)
	}
	sc.sum.add("agent re-flashed", "ok", fmt.Sprintf("refused its new node password, said so %s after install; in step %s after install, once remove-node freed the name",
		refusedAfter, time.Since(start).Round(time.Millisecond)))
}
