package quorum

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// pool keeps one etcd client per key (the local endpoint, and each member)
// so polling reuses TLS connections.
//
// A client whose call failed is dropped rather than kept: gRPC reconnects a
// broken connection with exponential backoff (up to 120 s by default), which
// would delay noticing a restarted member far beyond the poll interval. A
// fresh client dials on the next poll instead.
type pool struct {
	dial    func(endpoints []string) (*clientv3.Client, error)
	mu      sync.Mutex
	clients map[string]*clientv3.Client
}

func newPool(dial func([]string) (*clientv3.Client, error)) *pool {
	return &pool{dial: dial, clients: map[string]*clientv3.Client{}}
}

// localKey and memberKey keep the local client apart from the member's own,
// even when the member advertises the local endpoint: dropping one must not
// close the other under a concurrent call.
func localKey(endpoint string) string { return "local " + endpoint }

func memberKey(m Member) string {
	return fmt.Sprintf("member %x %s", m.ID, strings.Join(m.ClientURLs, ","))
}

// get returns the cached client for key, dialing endpoints if needed.
func (p *pool) get(key string, endpoints []string) (*clientv3.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	c, err := p.dial(endpoints)
	if err != nil {
		return nil, fmt.Errorf("creating etcd client for %s: %w", strings.Join(endpoints, ","), err)
	}
	p.clients[key] = c
	return c, nil
}

// drop closes and forgets the client for key.
func (p *pool) drop(key string) {
	p.mu.Lock()
	c, ok := p.clients[key]
	delete(p.clients, key)
	p.mu.Unlock()
	if ok {
		_ = c.Close() // the connection already failed; its close error says nothing new
	}
}

// retain closes every client whose key is not in keep (removed members).
func (p *pool) retain(keep map[string]bool) {
	p.mu.Lock()
	var stale []*clientv3.Client
	for k, c := range p.clients {
		if !keep[k] {
			stale = append(stale, c)
			delete(p.clients, k)
		}
	}
	p.mu.Unlock()
	for _, c := range stale {
		_ = c.Close() // the member is gone; nothing to report
	}
}

// close closes every client.
func (p *pool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, c := range p.clients {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing etcd client for %s: %w", k, err))
		}
		delete(p.clients, k)
	}
	return errors.Join(errs...)
}
