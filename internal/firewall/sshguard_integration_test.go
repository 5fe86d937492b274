package firewall

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// TestSSHGuardKeepsALiveSession holds an SSH session open from a LAN host
// outside firewall.sshSources: Apply refuses before any ufw write, names the
// session, and the session still carries bytes. With the host added to the
// sources, Apply enables ufw and the session carries bytes still.
func TestSSHGuardKeepsALiveSession(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	l := newLab(t, nil)
	mustRun(t, newExecRunner(t), "ip", "-n", l.node.name, "route", "add", "default", "via", labPeer)
	c := labCluster(t)
	// The LAN's upper half: the uplink's network is covered, the client
	// (10.99.0.50) is not.
	c.Firewall.SSHSources = []string{"10.99.0.128/25"}
	node, _ := c.Node("node")
	fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))

	serveEcho(t, l.node, ":22")
	session := dialIn(t, l.client, net.JoinHostPort(labNode, "22"))
	roundTrip(t, session, "before")
	before := ufwFiles(t, l)
	l.ufw.reset()

	_, err := fw.Apply(ctx, c, node)
	var le *LockoutError
	if !errors.As(err, &le) || !errors.Is(err, ErrSSHLockout) {
		t.Fatalf("Apply = %v, want a LockoutError", err)
	}
	if len(le.Cut) != 1 || le.Cut[0].Peer.Addr() != netip.MustParseAddr(labClient) || le.Uplink != nil {
		t.Errorf("lockout = %+v, want exactly the session from %s and no uplink problem", le, labClient)
	}
	for _, want := range []string{"open SSH session from " + labClient + ":", "to " + labNode + ":22", "firewall.sshSources is [10.99.0.128/25]", "add " + labClient + "/32"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if reads, writes := l.ufw.counts(); writes != 0 {
		t.Errorf("the refused apply ran %d ufw reads and %d other commands; want no write", reads, writes)
	}
	if diff := cmp.Diff(before, ufwFiles(t, l)); diff != "" {
		t.Errorf("the refused apply changed ufw's files (-before +after):\n%s", diff)
	}
	roundTrip(t, session, "after the refusal")

	c.Firewall.SSHSources = append(c.Firewall.SSHSources, labClient+"/32")
	if _, err := fw.Apply(ctx, c, node); err != nil {
		t.Fatalf("Apply with the client among the sources: %v", err)
	}
	if st, err := fw.Observe(ctx); err != nil || !st.Active {
		t.Fatalf("ufw after the apply: active %v, %v", st.Active, err)
	}
	roundTrip(t, session, "after ufw was enabled")
	if err := reach(l.client, "tcp", net.JoinHostPort(labNode, "22"), probeTimeout); err != nil {
		t.Errorf("a new SSH connection from the client after the apply: %v", err)
	}
}

// TestSSHGuardUplink refuses a policy under which nobody on the network the
// node's default route answers on could open SSH: the Pi on another
// LAN than the homelab's, with no session open (first boot, headless).
func TestSSHGuardUplink(t *testing.T) {
	requireIntegration(t)
	l := newLab(t, nil)
	mustRun(t, newExecRunner(t), "ip", "-n", l.node.name, "route", "add", "default", "via", labPeer)
	c := labCluster(t)
	c.Firewall.SSHSources = []string{"192.168.1.0/24"}
	node, _ := c.Node("node")
	fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))
	l.ufw.reset()
	_, err := fw.Apply(context.Background(), c, node)
	var le *LockoutError
	if !errors.As(err, &le) {
		t.Fatalf("Apply = %v, want a LockoutError", err)
	}
	want := &Uplink{Addr: netip.MustParseAddr(labNode), Prefix: netip.MustParsePrefix(labNode + "/24"), Iface: "eth0"}
	if diff := cmp.Diff(want, le.Uplink, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" || len(le.Cut) != 0 {
		t.Errorf("uplink (-want +got):\n%s\ncut sessions %v, want none", diff, le.Cut)
	}
	if !strings.Contains(err.Error(), "nobody on 10.99.0.0/24, where this node's default route answers from (10.99.0.11 on eth0)") {
		t.Errorf("error %q does not name the uplink", err)
	}
	if _, writes := l.ufw.counts(); writes != 0 {
		t.Errorf("the refused apply ran %d writing commands", writes)
	}
}

// ufwFiles are the contents of the test host's ufw configuration.
func ufwFiles(t *testing.T, l *lab) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{userRulesPath, user6RulesPath, defaultsPath, "/etc/ufw/ufw.conf"} {
		data, err := os.ReadFile(l.root.Path(p))
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}

// serveEcho echoes every TCP connection to addr in ns until the test ends.
func serveEcho(t *testing.T, ns *testNS, addr string) {
	t.Helper()
	var l net.Listener
	if err := inNS(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }() //nolint:errcheck // echo until closed
		}
	}()
}

func dialIn(t *testing.T, ns *testNS, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := inNS(ns, func() (err error) { c, err = net.DialTimeout("tcp", addr, 2*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg over c and wants it echoed within a second.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("session %s: writing: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("session %s: read %q, %v; want %q echoed", msg, buf, err, msg)
	}
}
