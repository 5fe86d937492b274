package apply

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nodeagent/nodeagent/internal/host"
)

var crdResource = schema.GroupVersionResource{
	Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions",
}

// waitCRDs waits, up to CRDTimeout, for the CRDs applied in this run to be
// Established, then drops the cached discovery so their kinds map. A CRD
// that does not get there only leaves its objects pending.
func (r *run) waitCRDs(ctx context.Context, first []int) {
	var names []string
	for _, i := range first {
		if isCRD(r.desired[i]) && applied(r.results[i].Outcome) {
			names = append(names, r.desired[i].GetName())
		}
	}
	if len(names) == 0 || !r.guard.check(true) {
		return
	}
	client := r.e.dyn.Resource(crdResource)
	err := r.poll(ctx, r.e.opts.CRDTimeout, func() bool {
		for len(names) > 0 {
			crd, err := client.Get(ctx, names[0], metav1.GetOptions{})
			if err != nil || !established(crd) {
				return false
			}
			names = names[1:]
		}
		return true
	})
	if err != nil {
		r.e.log.Warn("CRDs not established", zap.Strings("crds", names), zap.Error(err))
	}
	r.e.mapper.Reset()
}

func applied(o Outcome) bool { return o == Created || o == Configured || o == Unchanged }

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// applyDeferred retries the objects whose kind was not served, whose chart
// was not installed or whose chart's webhook could not be called, re-reading
// discovery on each try, from every PollInterval backing off to eight times
// it, up to KindTimeout. Those still waiting stay pending for the next
// reconcile: a chart can take minutes to install its CRDs and start the
// controller behind its webhooks, which is no failure.
func (r *run) applyDeferred(ctx context.Context) {
	if len(r.deferred) == 0 {
		return
	}
	waiting := r.deferred
	r.e.log.Info("waiting for kinds, charts and webhooks", zap.Int("objects", len(waiting)))
	err := r.pollBackoff(ctx, r.e.opts.KindTimeout, func() bool {
		if !r.guard.check(true) {
			r.stopAll(waiting)
			return true
		}
		r.e.mapper.Reset()
		r.deferred = nil
		r.step(ctx, "deferred objects", waiting)
		waiting = r.deferred
		return len(waiting) == 0
	})
	if err != nil {
		r.e.log.Warn("objects left pending", zap.Int("objects", len(waiting)),
			zap.String("first", r.results[waiting[0]].Reason), zap.Error(err))
	}
}

// poll is the engine's poll, its time counted as waited.
func (r *run) poll(ctx context.Context, timeout time.Duration, done func() bool) error {
	start := r.e.opts.Clock.Now()
	defer func() { r.waited += r.e.opts.Clock.Now().Sub(start) }()
	return r.e.poll(ctx, timeout, 1, done)
}

// pollBackoff is poll with the interval doubling up to eight times
// PollInterval: a try re-reads discovery and charts, and a chart takes
// minutes.
func (r *run) pollBackoff(ctx context.Context, timeout time.Duration, done func() bool) error {
	start := r.e.opts.Clock.Now()
	defer func() { r.waited += r.e.opts.Clock.Now().Sub(start) }()
	return r.e.poll(ctx, timeout, 8, done)
}

// poll calls done every PollInterval, doubled after each call up to
// maxFactor times PollInterval, until it returns true, the timeout passes
// or ctx ends.
func (e *Engine) poll(ctx context.Context, timeout time.Duration, maxFactor int, done func() bool) error {
	deadline := e.opts.Clock.Now().Add(timeout)
	interval := e.opts.PollInterval
	timer := e.opts.Clock.NewTimer(interval)
	defer timer.Stop()
	for !done() {
		if !e.opts.Clock.Now().Before(deadline) {
			return fmt.Errorf("still waiting after %s", timeout)
		}
		timer.Reset(interval)
		interval = min(2*interval, time.Duration(maxFactor)*e.opts.PollInterval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C():
		}
	}
	return nil
}

// guard calls the "quorum still held" check at step boundaries and, within
// a step, at most every interval (the check asks every etcd member).
type guard struct {
	held     func() bool
	interval time.Duration
	clock    host.Clock
	mu       sync.Mutex
	last     time.Time
	lost     bool
}

func newGuard(held func() bool, interval time.Duration, clock host.Clock) *guard {
	return &guard{held: held, interval: interval, clock: clock}
}

// check reports whether the run may go on; boundary forces a fresh check.
func (g *guard) check(boundary bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lost || g.held == nil {
		return !g.lost
	}
	now := g.clock.Now()
	if !boundary && now.Sub(g.last) < g.interval {
		return true
	}
	g.last = now
	g.lost = !g.held()
	return !g.lost
}

func (g *guard) stopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lost
}
