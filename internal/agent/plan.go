package agent

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// PlanOptions tune the plan.
type PlanOptions struct {
	// Live reads this machine (installed k3s, ufw rules, block devices and
	// mounts, the Node's labels) so the plan shows only what would change
	// here; without it the plan is that of a fresh node, computed from the
	// cluster file alone.
	Live   bool
	Root   host.Root
	Runner host.Runner
	Log    *zap.Logger
}

// Plan returns the ordered steps node n would take, with the exact content it
// would write, computed by the same code that applies them. It changes
// nothing on the host.
func Plan(ctx context.Context, f *config.File, n config.Node, opts PlanOptions) (plan.Node, error) {
	a := New(Deps{Log: opts.Log, File: f, Node: n, Root: opts.Root, Runner: opts.Runner, Clock: host.RealClock{}})
	defer a.Close()
	return a.Plan(ctx, opts.Live)
}

// Plan iterates the table: every step that applies on this node, live or
// from the cluster file alone.
func (a *Agent) Plan(ctx context.Context, live bool) (plan.Node, error) {
	out := plan.Node{Node: a.Node.Name, Role: a.Node.Role}
	for _, s := range a.applicable() {
		st, err := s.Plan(ctx, live)
		if err != nil {
			return out, fmt.Errorf("planning step %s: %w", s.Name(), err)
		}
		out.Steps = append(out.Steps, st)
	}
	return out, nil
}
