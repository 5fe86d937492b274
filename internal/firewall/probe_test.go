package firewall

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// inNS runs fn on an OS thread that has joined the namespace; sockets fn
// creates stay in that namespace after the thread leaves it.
func inNS(ns *testNS, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(ns.path())
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime then discards it
			// instead of reusing a thread in the wrong namespace.
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// serve listens on addr in ns: TCP connections are accepted and closed, UDP
// datagrams are echoed. It stops when the test ends.
func serve(t testing.TB, ns *testNS, network, addr string) {
	t.Helper()
	var closer interface{ Close() error }
	err := inNS(ns, func() error {
		if network == "udp" {
			pc, err := net.ListenPacket("udp", addr)
			if err == nil {
				closer = pc
				go echo(pc)
			}
			return err
		}
		l, err := net.Listen("tcp", addr)
		if err == nil {
			closer = l
			go acceptAndClose(l)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listening on %s/%s in %s: %v", addr, network, ns.name, err)
	}
	t.Cleanup(func() { closer.Close() })
}

func acceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func echo(pc net.PacketConn) {
	buf := make([]byte, 64)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from) //nolint:errcheck // best effort echo
	}
}

// reach reports whether a TCP handshake, or a UDP echo, from ns to addr
// completes within timeout. A firewall DROP shows as a timeout.
func reach(ns *testNS, network, addr string, timeout time.Duration) error {
	var conn net.Conn
	err := inNS(ns, func() error {
		var err error
		conn, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if network != "udp" {
		return nil
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 8))
	return err
}
