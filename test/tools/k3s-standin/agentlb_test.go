package main

import (
	"context"
	"io"
	"net"
	"testing"

	"go.uber.org/zap/zaptest"
)

// backend is a TCP server that answers every connection with its name.
func backend(t *testing.T, name string) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), func() { _ = ln.Close() }
}

func through(t *testing.T, lb *loadBalancer) string {
	t.Helper()
	c, err := net.Dial("tcp", lb.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestLoadBalancerFailover: connections go to the configured server, then,
// once it stops, to a learned one, and stay there.
func TestLoadBalancerFailover(t *testing.T) {
	a, stopA := backend(t, "a")
	b, stopB := backend(t, "b")
	defer stopB()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lb, err := newLoadBalancer("127.0.0.1:0", a, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	go lb.serve(ctx)
	if got := through(t, lb); got != "a" {
		t.Fatalf("first connection reached %q, want the configured server", got)
	}
	lb.update([]string{b, a})
	if got := through(t, lb); got != "a" {
		t.Fatalf("after learning, reached %q, want the current server kept", got)
	}
	stopA()
	if got := through(t, lb); got != "b" {
		t.Fatalf("with the configured server down, reached %q, want the learned one", got)
	}
	if got := through(t, lb); got != "b" {
		t.Fatalf("next connection reached %q, want to stay on b", got)
	}
	stopB()
	if got := through(t, lb); got != "" {
		t.Fatalf("with no server up, got %q, want the connection closed", got)
	}
}
