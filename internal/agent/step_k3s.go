package agent

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// k3sStep installs, configures and starts k3s, in join order.
type k3sStep struct{ a *Agent }

func (k3sStep) Name() string  { return StepK3s }
func (k3sStep) Applies() bool { return true }

// Apply waits for the node before this one in the join order (only while
// k3s has never started here: once etcd data exists, k3s ignores the join
// settings anyway), then installs, configures and starts k3s.
func (s k3sStep) Apply(ctx context.Context) error {
	a := s.a
	if !s.hasData() {
		if pred, ok := a.cluster().JoinPredecessor(a.Node); ok {
			a.Reporter.Status(fmt.Sprintf("waiting for %s (%s:6443) to answer before joining", pred.Name, pred.Address))
			err := k3s.WaitForPredecessor(ctx, a.cluster(), a.Node, func(attempt int, err error) {
				a.log.Info("waiting for the previous node to answer", zap.String("waitingFor", pred.Name), zap.Int("attempt", attempt), zap.Error(err))
			})
			if err != nil {
				return err
			}
		}
	}
	res, err := a.k3s.Ensure(ctx)
	if err != nil {
		return err
	}
	a.log.Info("k3s running", zap.Bool("changed", res.Changed()), zap.Bool("restarted", res.Restarted))
	return nil
}

// hasData reports whether k3s has started here before (server etcd data
// or an agent's node password).
func (s k3sStep) hasData() bool {
	for _, p := range []string{k3s.EtcdDataDir, "/etc/rancher/node/password"} {
		if _, err := os.Stat(s.a.Root.Path(p)); err == nil {
			return true
		}
	}
	return false
}

func (s k3sStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	if live {
		return s.a.k3s.PlanLive(ctx)
	}
	return k3s.Plan(s.a.cluster(), s.a.Node)
}

func (s k3sStep) Status(ctx context.Context, r *StatusReport) error {
	r.K3sVersion = s.a.cluster().K3s.Version
	if s.a.Systemd == nil {
		return nil
	}
	u, err := s.a.Systemd.State(ctx, k3s.UnitName(s.a.Node.Role))
	if err != nil {
		return err
	}
	r.K3sUnit = u.String()
	return nil
}

// Checks checks the join token: present and readable by root only.
func (s k3sStep) Checks(context.Context) []preflight.Check {
	file := s.a.cluster().K3s.TokenFile
	tok := preflight.Check{Name: "token", Severity: preflight.SeverityError, OK: true, Message: file + " is readable by root only"}
	if _, err := k3s.ReadToken(s.a.Root.Path(file)); err != nil {
		tok.OK, tok.Message, tok.Fix = false, err.Error(), "nodeagent token generate on one node, then copy the file to every node"
	}
	return []preflight.Check{tok}
}
