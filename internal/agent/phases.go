package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Phase is one named part of provisioning. Run must be idempotent: a phase
// that finds its work done returns nil without changing anything, so a run
// killed anywhere converges when started again.
type Phase struct {
	Name string
	// Skip, when set and true, leaves the phase out on this node.
	Skip func() bool
	Run  func(ctx context.Context) error
}

// Reporter shows progress: a terminal line per phase, or systemd STATUS=.
type Reporter interface {
	PhaseStarted(name string)
	PhaseDone(name string, elapsed time.Duration, err error)
	// Status is a one-line description of a wait, e.g. "waiting for quorum: 1/3".
	Status(text string)
}

// ErrRebootRequired stops provisioning cleanly after a change that only a
// reboot applies (the memory cgroup on the kernel command line).
var ErrRebootRequired = errors.New("reboot required")

// stopAfterEnv names a phase after which a test harness wants the process to
// stop, to check that a run interrupted at each boundary converges.
const stopAfterEnv = "NODEAGENT_TEST_STOP_AFTER"

// runPhases runs the phases in order, stopping at the first error.
func runPhases(ctx context.Context, log *zap.Logger, clock host.Clock, rep Reporter, phases []Phase) error {
	for _, p := range phases {
		if p.Skip != nil && p.Skip() {
			log.Debug("phase skipped", zap.String("phase", p.Name))
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		plog := log.With(zap.String("phase", p.Name))
		rep.PhaseStarted(p.Name)
		plog.Info("phase started")
		start := clock.Now()
		err := p.Run(ctx)
		elapsed := clock.Now().Sub(start)
		rep.PhaseDone(p.Name, elapsed, err)
		if err != nil {
			plog.Error("phase failed", zap.Duration("elapsed", elapsed), zap.Error(err))
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		plog.Info("phase done", zap.Duration("elapsed", elapsed))
		if os.Getenv(stopAfterEnv) == p.Name {
			plog.Warn("stopping after phase for a test", zap.String("env", stopAfterEnv))
			os.Exit(0)
		}
	}
	return nil
}
