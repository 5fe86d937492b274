package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderConfig names the Lease and its timing. The defaults suit three
// servers on one LAN: a crashed holder is replaced within LeaseDuration.
type LeaderConfig struct {
	Namespace     string        // default kube-system
	Name          string        // default nodeagent-apply
	LeaseDuration time.Duration // default 10s
	RenewDeadline time.Duration // default 7s
	RetryPeriod   time.Duration // default 1s
}

// Where the apply Lease is by default; `nodeagent status --cluster` reads
// it back.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "nodeagent-apply"
)

func (c LeaderConfig) withDefaults() LeaderConfig {
	if c.Namespace == "" {
		c.Namespace = LeaseNamespace
	}
	if c.Name == "" {
		c.Name = LeaseName
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 10 * time.Second
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 7 * time.Second
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = time.Second
	}
	return c
}

// HeldError is returned when the wait for the lease ended while another
// node held it.
type HeldError struct {
	Holder string
	Err    error
}

func (e *HeldError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("apply lease not acquired: %v", e.Err)
	}
	return fmt.Sprintf("apply lease held by %s: %v", e.Holder, e.Err)
}

func (e *HeldError) Unwrap() error { return e.Err }

// Leader lets one node at a time apply, through a coordination.k8s.io Lease.
type Leader struct {
	cs       kubernetes.Interface
	identity string
	cfg      LeaderConfig
	log      *zap.Logger
}

// NewLeader returns a Leader competing as identity (the node name).
func NewLeader(cs kubernetes.Interface, identity string, cfg LeaderConfig, log *zap.Logger) *Leader {
	cfg = cfg.withDefaults()
	return &Leader{cs: cs, identity: identity, cfg: cfg,
		log: log.With(zap.String("component", "apply"), zap.String("lease", cfg.Namespace+"/"+cfg.Name))}
}

// Run waits until this node holds the lease, runs fn with a context that
// is cancelled if the lease is lost, and releases the lease when fn
// returns, so `join` applies once and hands over. If ctx ends first, Run
// returns a *HeldError naming the holder it saw.
func (l *Leader) Run(ctx context.Context, fn func(context.Context) error) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &term{l: l, fn: fn, release: cancel, done: make(chan struct{})}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: l.cfg.Namespace, Name: l.cfg.Name},
			Client:     l.cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: l.identity},
		},
		Name:            l.cfg.Name,
		LeaseDuration:   l.cfg.LeaseDuration,
		RenewDeadline:   l.cfg.RenewDeadline,
		RetryPeriod:     l.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: t.lead,
			OnStoppedLeading: func() {},
			OnNewLeader:      t.observe,
		},
	})
	if err != nil {
		return fmt.Errorf("configuring leader election: %w", err)
	}
	le.Run(runCtx)
	started, holder := t.state()
	if !started {
		return &HeldError{Holder: holder, Err: context.Cause(ctx)}
	}
	<-t.done // the elector returns early when the lease is lost mid-run
	return t.err
}

// term is one Run: the callbacks the elector calls from its goroutines.
type term struct {
	l       *Leader
	fn      func(context.Context) error
	release context.CancelFunc
	done    chan struct{}
	err     error // set before done is closed

	mu      sync.Mutex
	started bool
	holder  string
}

func (t *term) lead(ctx context.Context) {
	t.mu.Lock()
	t.started = true
	t.mu.Unlock()
	t.l.log.Info("apply lease acquired", zap.String("identity", t.l.identity))
	defer close(t.done)
	t.err = t.fn(ctx)
	// Cancelling makes the elector release the lease; fn is done, so
	// nothing it guards still runs (see ReleaseOnCancel).
	t.release()
}

func (t *term) observe(id string) {
	t.mu.Lock()
	t.holder = id
	t.mu.Unlock()
	if id != t.l.identity {
		t.l.log.Info("apply lease held by another node", zap.String("holder", id))
	}
}

func (t *term) state() (started bool, holder string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started, t.holder
}

// TryRun is Run with the wait for the lease bounded by wait.
func (l *Leader) TryRun(ctx context.Context, wait time.Duration, fn func(context.Context) error) error {
	waitCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(wait, func() { cancel(fmt.Errorf("waited %s", wait)) })
	defer timer.Stop()
	return l.Run(waitCtx, func(leadCtx context.Context) error {
		timer.Stop() // leading now: the wait bound no longer applies
		return fn(leadCtx)
	})
}

// IsHeld reports whether err says another node holds the lease.
func IsHeld(err error) bool {
	var h *HeldError
	return errors.As(err, &h)
}
