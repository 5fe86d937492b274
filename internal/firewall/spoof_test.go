package firewall

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// labSpoofed is a pod address a LAN host puts on its own interface.
const labSpoofed = "10.42.7.7"

// spoofCheck is one packet and whether it reaches the node's stack.
type spoofCheck struct {
	name          string
	from          *testNS
	src           string // source address; "" for the namespace's own
	network, addr string
}

// arrival sends one TCP SYN or UDP datagram from src and reports whether
// the node's stack saw it: a handshake, an echo or a refusal (RST, ICMP
// port unreachable) means it arrived; a timeout means a firewall dropped it.
func arrival(ns *testNS, src, network, addr string) (bool, error) {
	err := inNS(ns, func() error {
		d := net.Dialer{Timeout: probeTimeout}
		if src != "" {
			if network == "udp" {
				d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
			} else {
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
			}
		}
		conn, err := d.Dial(network, addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		if network != "udp" {
			return nil
		}
		if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
			return err
		}
		if _, err := conn.Write([]byte("ping")); err != nil {
			return err
		}
		_, err = conn.Read(make([]byte, 8))
		return err
	})
	var nerr net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNREFUSED):
		return true, nil
	case errors.As(err, &nerr) && nerr.Timeout():
		return false, nil
	}
	return false, err
}

func arrivals(t *testing.T, checks []spoofCheck) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, c := range checks {
		ok, err := arrival(c.from, c.src, c.network, c.addr)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got[c.name] = ok
	}
	return got
}

// TestPodRulesRefuseSpoofedPodAddresses is issue #22 item 11 against the
// real ufw: a LAN host that sends from a pod address (10.42.7.7) reached
// every port of the node through the interface-less pod rules an older
// nodeagent wrote. After Apply those rules are gone, replaced by rules
// bound to cni0 and flannel.1 and narrowed to the ports pods need: the
// spoofed packets are dropped whether rp_filter is off (0) or loose (2,
// systemd's default), while the node's own pods and the peer node still get
// through.
func TestPodRulesRefuseSpoofedPodAddresses(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	l := newLab(t, nil)
	run := newExecRunner(t)
	// The spoofer owns the pod address; the node's default route points at
	// it, so replies (and loose reverse-path checks) find a way back.
	mustRun(t, run, "ip", "-n", l.client.name, "addr", "add", labSpoofed+"/32", "dev", "eth0")
	mustRun(t, run, "ip", "-n", l.node.name, "route", "add", "default", "via", labClient)
	serve(t, l.node, "udp", ":8472")
	serve(t, l.node, "tcp", ":10250")
	serve(t, l.node, "tcp", ":2379")
	c := labCluster(t)
	c.Firewall.SSHSources = []string{labLAN}
	node, _ := c.Node("node")

	hp := net.JoinHostPort
	spoofed := []spoofCheck{
		{"spoofed pod address to vxlan 8472/udp", l.client, labSpoofed, "udp", hp(labNode, "8472")},
		{"spoofed pod address to a closed udp port", l.client, labSpoofed, "udp", hp(labNode, "9")},
		{"spoofed pod address to a closed tcp port", l.client, labSpoofed, "tcp", hp(labNode, "9")},
		{"spoofed pod address to the kubelet", l.client, labSpoofed, "tcp", hp(labNode, "10250")},
	}
	legit := []spoofCheck{
		{"pod to its node's kubelet", l.pod, "", "tcp", hp(labPodGW, "10250")},
		{"pod to its node's apiserver port, closed here", l.pod, "", "tcp", hp(labPodGW, "6443")},
		{"pod to its node's etcd", l.pod, "", "tcp", hp(labPodGW, "2379")},
		{"vxlan from the peer node", l.peer, "", "udp", hp(labNode, "8472")},
	}

	// What an older nodeagent wrote: the pod rules of the k3s docs, bound
	// to no interface.
	for _, args := range [][]string{
		{"allow", "proto", "tcp", "from", labLAN, "to", "any", "port", "22", "comment", "nodeagent:ssh"},
		{"allow", "from", "10.42.0.0/16", "to", "any", "comment", "nodeagent:pods"},
		{"allow", "from", "10.43.0.0/16", "to", "any", "comment", "nodeagent:services"},
		{"route", "allow", "from", "10.42.0.0/16", "to", "any", "comment", "nodeagent:pods-routed"},
		{"--force", "enable"},
	} {
		mustRun(t, l.ufw, "ufw", args...)
	}
	for _, rp := range []string{"0", "2"} {
		setRPFilter(t, l, rp)
		for name, ok := range arrivals(t, spoofed) {
			if !ok {
				t.Fatalf("rp_filter %s, old rules: %q was dropped; the lab cannot show the spoofing", rp, name)
			}
		}
	}

	fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))
	if _, err := fw.Apply(ctx, c, node); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := map[string]bool{
		"pod to its node's kubelet":                     true,
		"pod to its node's apiserver port, closed here": true,
		"pod to its node's etcd":                        false,
		"vxlan from the peer node":                      true,
	}
	for _, s := range spoofed {
		want[s.name] = false
	}
	for _, rp := range []string{"0", "2"} {
		setRPFilter(t, l, rp)
		if diff := cmp.Diff(want, arrivals(t, append(spoofed, legit...))); diff != "" {
			t.Errorf("rp_filter %s, after Apply: arrived (-want +got):\n%s", rp, diff)
		}
	}
	st, err := fw.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Rules {
		if strings.HasPrefix(r.Comment, tagPods) && r.InIface == "" {
			t.Errorf("a pod rule bound to no interface is left: %s", r)
		}
	}
}

func setRPFilter(t *testing.T, l *lab, value string) {
	t.Helper()
	l.node.exec(t, newExecRunner(t), "sysctl", "-q", "-w",
		"net.ipv4.conf.all.rp_filter="+value, "net.ipv4.conf.eth0.rp_filter="+value)
}
