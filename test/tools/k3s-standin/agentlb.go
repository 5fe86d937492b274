package main

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// AgentLBPort is where k3s's agent runs its client load balancer to the
// supervisors (--lb-server-port, default 6444; pkg/agent/proxy/apiproxy.go).
// With the apiserver on the supervisor port, as on every k3s server, the
// agent's supervisor and apiserver URLs are both this balancer's.
const AgentLBPort = "6444"

// loadBalancer is a TCP balancer in the manner of k3s's
// pkg/agent/loadbalancer: the configured server is the default, the
// servers learned from /v1-k3s/apiservers are added, and each new
// connection goes to the server that took the last one, or, when it does
// not answer, to the next one in the list. Connections already made stay
// on their server until it closes them (a stopped server ends them, and
// the client reconnects through the balancer).
type loadBalancer struct {
	ln  net.Listener
	log *zap.Logger

	mu       sync.Mutex
	def      string   // the configured server, host:port
	servers  []string // learned, sorted; def is tried too when absent
	current  string
	dialWait time.Duration
}

func newLoadBalancer(listen, defaultServer string, log *zap.Logger) (*loadBalancer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	lb := &loadBalancer{ln: ln, log: log, def: defaultServer, current: defaultServer, dialWait: 5 * time.Second}
	log.Info("Running load balancer", zap.String("listen", ln.Addr().String()), zap.String("server", defaultServer))
	return lb, nil
}

// serve accepts until ctx ends.
func (lb *loadBalancer) serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = lb.ln.Close()
	}()
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				lb.log.Warn("load balancer accept", zap.Error(err))
			}
			return
		}
		go lb.forward(ctx, c)
	}
}

func (lb *loadBalancer) url() string { return "https://" + lb.ln.Addr().String() }

// update sets the learned servers (k3s's LoadBalancer.Update).
func (lb *loadBalancer) update(servers []string) {
	servers = slices.Sorted(slices.Values(servers))
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if slices.Equal(servers, lb.servers) {
		return
	}
	lb.servers = servers
	lb.log.Info("Updated load balancer server addresses", zap.Strings("servers", servers))
}

// candidates is the order to try: the current server, then the others in
// list order after it, then the default if it is not listed.
func (lb *loadBalancer) candidates() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	all := slices.Clone(lb.servers)
	if !slices.Contains(all, lb.def) {
		all = append(all, lb.def)
	}
	if i := slices.Index(all, lb.current); i > 0 {
		all = append(all[i:], all[:i]...)
	}
	return all
}

func (lb *loadBalancer) dial(ctx context.Context) (net.Conn, error) {
	var errs []error
	for _, s := range lb.candidates() {
		d := net.Dialer{Timeout: lb.dialWait}
		c, err := d.DialContext(ctx, "tcp", s)
		if err == nil {
			lb.mu.Lock()
			if lb.current != s {
				lb.log.Info("load balancer switched server", zap.String("from", lb.current), zap.String("to", s))
				lb.current = s
			}
			lb.mu.Unlock()
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (lb *loadBalancer) forward(ctx context.Context, client net.Conn) {
	defer func() { _ = client.Close() }()
	server, err := lb.dial(ctx)
	if err != nil {
		lb.log.Warn("load balancer: no server answers", zap.Error(err))
		return
	}
	defer func() { _ = server.Close() }()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	for range 2 {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}
