package agent

import (
	"context"
	"os/exec"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// firewallStep keeps nodeagent's UFW rules in step with the cluster file.
type firewallStep struct{ a *Agent }

func (firewallStep) Name() string    { return StepFirewall }
func (s firewallStep) Applies() bool { return s.a.cluster().Firewall.IsEnabled() }

func (s firewallStep) Apply(ctx context.Context) error {
	res, err := s.a.firewall.Apply(ctx, s.a.cluster(), s.a.Node)
	if err != nil {
		return err
	}
	s.a.report.firewallApplied(s.a.Root, len(res.Applied))
	s.a.log.Info("firewall in place", zap.Int("changes", len(res.Applied)))
	return nil
}

// Plan shows the ufw commands: against the live rules on this machine, or
// from a fresh install for a node planned from elsewhere.
func (s firewallStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	if live {
		return s.a.firewall.Plan(ctx, s.a.cluster(), s.a.Node)
	}
	return firewall.FreshPlan(s.a.cluster(), s.a.Node)
}

// Status says whether UFW is in the state the cluster file wants.
func (s firewallStep) Status(ctx context.Context, r *StatusReport) error {
	fs := FirewallStatus{Managed: s.Applies()}
	defer func() { r.Firewall = fs }()
	live, err := s.a.firewall.Observe(ctx)
	if err != nil {
		return err
	}
	fs.Active = live.Active
	for _, rule := range live.Rules {
		if rule.Owned() {
			fs.OwnedRules++
		}
	}
	if fs.Managed {
		add, remove := firewall.Diff(firewall.Desired(s.a.cluster(), s.a.Node), live.Rules)
		fs.Drift = len(add) + len(remove)
	}
	return nil
}

func (firewallStep) Checks(context.Context) []preflight.Check {
	c := preflight.Check{Name: "ufw", Severity: preflight.SeverityWarning, OK: true, Message: "ufw is installed"}
	if _, err := exec.LookPath("ufw"); err != nil {
		c.OK, c.Message, c.Fix = false, "ufw is not installed", "apt-get install ufw (or firewall.ifMissing: install)"
	}
	return []preflight.Check{c}
}
