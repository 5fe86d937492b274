package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// DefaultInterval is the poll interval of Gate.Wait: short enough that the
// gate opens well within a second of quorum returning, long enough that a
// Raspberry Pi does not notice the polling.
const DefaultInterval = 250 * time.Millisecond

// ErrNoQuorum is wrapped by the error of Wait when the deadline passes without
// quorum, so callers can tell "cluster unhealthy" from "cancelled".
var ErrNoQuorum = errors.New("etcd quorum not held")

// Prober observes the cluster; *Observer is the real one.
type Prober interface {
	Observe(ctx context.Context) (Status, error)
}

// GateConfig tunes a Gate; zero values take the defaults.
type GateConfig struct {
	Interval time.Duration // DefaultInterval if zero
	Clock    host.Clock    // host.RealClock if nil
	// MinHealthyVoters is a floor on healthy voters besides etcd's own
	// quorum: ⌊n/2⌋+1 of the n servers the cluster file names, so a first
	// server alone (1/1, a quorum to etcd) does not open the gate before the
	// cluster it is meant to be exists.
	MinHealthyVoters int
}

// Gate blocks progress until etcd quorum holds.
type Gate struct {
	prober   Prober
	min      int
	interval time.Duration
	clock    host.Clock
	log      *zap.Logger
}

// NewGate returns a Gate polling p.
func NewGate(p Prober, cfg GateConfig, log *zap.Logger) *Gate {
	g := &Gate{prober: p, interval: cfg.Interval, clock: cfg.Clock, min: cfg.MinHealthyVoters,
		log: log.With(zap.String("component", "quorum"))}
	if g.interval <= 0 {
		g.interval = DefaultInterval
	}
	if g.clock == nil {
		g.clock = host.RealClock{}
	}
	return g
}

// Wait polls until quorum holds (nil), the deadline passes (an error wrapping
// ErrNoQuorum that names healthy/total voters), or ctx ends. progress, if not
// nil, gets every observation, e.g. to show "waiting for quorum: 1/3 voters
// healthy" in systemd's STATUS=. A failed observation reaches progress as a
// zero Status.
func (g *Gate) Wait(ctx context.Context, deadline time.Time, progress func(Status)) error {
	ticker := g.clock.NewTicker(g.interval)
	defer ticker.Stop()
	var last *Status // last successful observation, for the timeout error
	for {
		st, err := g.prober.Observe(ctx)
		if progress != nil {
			progress(st)
		}
		if err == nil {
			if g.open(st) {
				g.log.Info("etcd quorum held", zap.Stringer("verdict", st.Verdict),
					zap.String("leader", st.LeaderName()))
				return nil
			}
			last = &st
		}
		if !g.clock.Now().Before(deadline) {
			return timeoutError(deadline, last, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for etcd quorum: %w", ctx.Err())
		case <-ticker.C():
		}
	}
}

func timeoutError(deadline time.Time, last *Status, observeErr error) error {
	ctx := "waiting for etcd quorum until " + deadline.Format(time.RFC3339)
	switch {
	case last == nil:
		return fmt.Errorf("%s: %w: cluster never observed: %w", ctx, ErrNoQuorum, observeErr)
	case observeErr != nil:
		return fmt.Errorf("%s: %w: %s; last observation failed: %w", ctx, ErrNoQuorum, last.Summary(), observeErr)
	}
	return fmt.Errorf("%s: %w: %s", ctx, ErrNoQuorum, last.Summary())
}

// Held reports whether quorum holds, for a step that must stop at its next
// boundary when quorum is lost. A failed or closed observation is asked
// again one interval later and only a second one says so: on a loaded
// 2-core machine a local linearizable read can miss its bound while every
// voter is healthy (seen in the end-to-end test once four kubelets and the
// controllers ran), and stopping an apply for it hands it to another server
// half done. The reason is logged.
func (g *Gate) Held(ctx context.Context) bool {
	if g.observeHeld(ctx, false) {
		return true
	}
	ticker := g.clock.NewTicker(g.interval)
	defer ticker.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-ticker.C():
	}
	return g.observeHeld(ctx, true)
}

// observeHeld observes once; a failed or closed observation is logged as
// a warning when final, else at debug level.
func (g *Gate) observeHeld(ctx context.Context, final bool) bool {
	log := g.log.Debug
	if final {
		log = g.log.Warn
	}
	st, err := g.prober.Observe(ctx)
	switch {
	case err != nil:
		log("etcd quorum unknown", zap.Error(err), zap.Bool("final", final))
		return false
	case !g.open(st):
		log("etcd quorum lost", zap.String("status", st.Summary()), zap.Int("minHealthyVoters", g.min), zap.Bool("final", final))
		return false
	}
	return true
}

// open reports whether st lets work through: etcd's quorum and the floor.
func (g *Gate) open(st Status) bool {
	return st.Quorum() && st.Verdict.HealthyVoters >= g.min
}
