package agent

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// The steps, in the order join runs them (DESIGN.md's join flow).
const (
	StepPreflight = "preflight"
	StepDisk      = "disk"
	StepFirewall  = "firewall"
	StepK3s       = "k3s"
	StepRegister  = "register"
	StepUSB       = "usb"
	StepLabels    = "labels"
	StepQuorum    = "quorum"
	StepManifests = "manifests"
)

// Step is one part of provisioning. Every step is a value of this one type,
// registered once in the table (Agent.table); join, the daemon's full
// reconcile, plan, status and doctor all iterate that table, so a step
// cannot be in one and missing from another.
type Step interface {
	Name() string
	// Applies tells whether the step runs on this node (a disk step on a
	// node without disks does not).
	Applies() bool
	// Plan is what Apply would change, computed by the code Apply uses:
	// observed on this host when live, else the fresh-host plan from the
	// cluster file alone. It changes nothing.
	Plan(ctx context.Context, live bool) (plan.Step, error)
	// Apply converges. It is idempotent: a step that finds its work done
	// changes nothing, so a run killed anywhere converges when started again.
	Apply(ctx context.Context) error
	// Status adds the step's part of `nodeagent status` to r; an error is
	// shown as a problem of that part, the rest still shows. It is asked
	// whether or not the step applies (firewall: managed or not).
	Status(ctx context.Context, r *StatusReport) error
}

// Checker is a step with checks of its own for `nodeagent doctor`.
type Checker interface {
	Checks(ctx context.Context) []preflight.Check
}

// newTable is the one list of steps, in join order.
func (a *Agent) newTable() []Step {
	return []Step{
		preflightStep{a}, diskStep{a}, firewallStep{a}, k3sStep{a},
		registerStep{a}, usbStep{a}, labelsStep{a},
		quorumStep{a}, sealedKeysStep{a}, manifestsStep{a},
	}
}

// applicable is the table without the steps that do not run on this node.
func (a *Agent) applicable() []Step {
	var out []Step
	for _, s := range a.table {
		if s.Applies() {
			out = append(out, s)
		} else {
			a.log.Debug("step does not apply", zap.String("step", s.Name()))
		}
	}
	return out
}

// Reporter shows progress: a terminal line per step, or systemd STATUS=.
type Reporter interface {
	PhaseStarted(name string)
	PhaseDone(name string, elapsed time.Duration, err error)
	// Status is a one-line description of a wait, e.g. "waiting for quorum: 1/3".
	Status(text string)
}

// ErrRebootRequired stops provisioning cleanly after a change that only a
// reboot applies (the memory cgroup on the kernel command line).
var ErrRebootRequired = errors.New("reboot required")

// ErrMemoryCgroup stops provisioning before k3s when the memory cgroup is
// off although the running kernel's command line enables it.
var ErrMemoryCgroup = errors.New("memory cgroup unavailable")

// PhaseError is a step's failure, named by its phase.
type PhaseError struct {
	Phase string
	Err   error
}

func (e *PhaseError) Error() string { return e.Phase + ": " + e.Err.Error() }
func (e *PhaseError) Unwrap() error { return e.Err }

// runSteps applies the steps that apply here, in order, stopping at the
// first error.
func (a *Agent) runSteps(ctx context.Context) error {
	return a.runStepsFrom(ctx, "")
}

// runStepsFrom applies the steps from the one named from on (all of them
// when from is "" or no longer in the table): the retry of a failed pass
// does not run again the steps that were in step a moment ago.
func (a *Agent) runStepsFrom(ctx context.Context, from string) error {
	steps := a.applicable()
	if i := slices.IndexFunc(steps, func(s Step) bool { return s.Name() == from }); i > 0 {
		a.log.Info("resuming at the failed phase", zap.String("from", from), zap.Int("skipped", i))
		steps = steps[i:]
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.runStep(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// runStep applies one step; everything logged meanwhile carries its phase.
func (a *Agent) runStep(ctx context.Context, s Step) error {
	name := s.Name()
	a.Phase.Set(name)
	defer a.Phase.Set("")
	a.Reporter.PhaseStarted(name)
	a.log.Info("phase started")
	start := a.Clock.Now()
	err := s.Apply(ctx)
	elapsed := a.Clock.Now().Sub(start)
	a.Reporter.PhaseDone(name, elapsed, err)
	if err != nil {
		a.log.Error("phase failed", zap.Duration("elapsed", elapsed), zap.Error(err))
		return &PhaseError{Phase: name, Err: err}
	}
	a.log.Info("phase done", zap.Duration("elapsed", elapsed))
	return nil
}

// StepNames lists the table's steps in order (docs/architecture.md is
// checked against it).
func StepNames() []string {
	var names []string
	for _, s := range (&Agent{}).newTable() {
		names = append(names, s.Name())
	}
	return names
}
