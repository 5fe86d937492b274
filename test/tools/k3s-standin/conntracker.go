package main

import (
	"context"
	"errors"
	"net"
	"sync"
)

// connTracker dials the kubelet's connections to the apiserver and closes
// them all when the process stops. Many of the kubelet's loops and its
// informers run until wait.NeverStop rather than its context, so their
// watches would hold the in-process apiserver's graceful shutdown for its
// whole ShutdownTimeout (the 60 s request timeout); a stopping k3s ends
// its kubelet with the process instead. Once closed, no new connection is
// made.
type connTracker struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	d      net.Dialer
}

func newConnTracker() *connTracker { return &connTracker{conns: map[net.Conn]struct{}{}} }

func (c *connTracker) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.Close()
		return nil, errors.New("the kubelet is stopping")
	}
	c.conns[conn] = struct{}{}
	return conn, nil
}

// closeAll closes every connection made and refuses new ones.
func (c *connTracker) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}
