package firewall

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// ErrUFWMissing means ufw is not installed and firewall.ifMissing is error.
var ErrUFWMissing = errors.New("ufw is not installed: run `apt-get install ufw` or set firewall.ifMissing: install")

// ErrNoSSHAccess means the policy would deny all incoming traffic without
// any SSH rule, locking the owner out of the node.
var ErrNoSSHAccess = errors.New("no firewall.sshSources and no network.tailscaleInterface: refusing a deny-incoming policy without SSH access")

// installArgv installs ufw; noninteractive so debconf never waits for a tty.
var installArgv = []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "ufw"}

// Firewall reconciles UFW on the node it runs on.
type Firewall struct {
	root host.Root
	run  host.Runner
	log  *zap.Logger
	net  Network
}

// New returns a Firewall reading ufw's files under root and running every
// command through run.
func New(root host.Root, run host.Runner, log *zap.Logger) *Firewall {
	return &Firewall{root: root, run: run, log: log.With(zap.String("component", "firewall")),
		net: NewNetwork(&netlink.Handle{})}
}

// WithNetwork makes the SSH guard read n instead of this process's network
// namespace (tests: the namespace of a test host).
func (f *Firewall) WithNetwork(n Network) *Firewall {
	f.net = n
	return f
}

// Result is what Apply did.
type Result struct {
	// Installed is true when Apply installed ufw.
	Installed bool
	// Applied are the ufw commands run, in order; empty when nothing differed.
	Applied []Change
}

// Apply brings ufw on node n to the cluster's policy: installs ufw if
// missing and allowed, adds missing rules, deletes stale owned rules, fixes
// the defaults and enables ufw, running only the commands the diff needs.
// With firewall.enabled false it touches nothing.
func (f *Firewall) Apply(ctx context.Context, c *config.Cluster, n config.Node) (Result, error) {
	var res Result
	if !c.Firewall.IsEnabled() {
		f.log.Info("firewall management disabled, ufw left untouched")
		return res, nil
	}
	desired := Desired(c, n)
	if !hasSSH(desired) {
		return res, ErrNoSSHAccess
	}
	st, err := f.Observe(ctx)
	if err != nil {
		return res, err
	}
	if err := f.guardSSH(c, st, desired); err != nil {
		return res, err
	}
	if !st.Installed || len(Changes(st, desired, DesiredDefaults())) > 0 {
		// Before the first change: what removing the package puts back.
		if err := f.recordBefore(st); err != nil {
			return res, err
		}
	}
	if !st.Installed {
		if st, err = f.install(ctx, c); err != nil {
			return res, err
		}
		res.Installed = true
	}
	changes := Changes(st, desired, DesiredDefaults())
	if len(changes) == 0 {
		f.log.Info("ufw already matches the policy", zap.Int("rules", len(desired)))
		return res, nil
	}
	res.Applied, err = f.applyChanges(ctx, changes, "changing ufw")
	return res, err
}

// guardSSH refuses, before anything is installed or written, a change that
// would shut out an open SSH session or the uplink's network (issue 16: a
// Pi on 192.168.1.0/24 with the homelab's 10.0.0.0/24 as sshSources).
func (f *Firewall) guardSSH(c *config.Cluster, st State, desired []Rule) error {
	port := c.Firewall.SSHPort
	if !st.Installed {
		st = State{Defaults: packageDefaults()} // what a fresh install starts from
	}
	if !TouchesSSH(st, desired, DesiredDefaults(), port) {
		return nil // SSH is left as it is: nothing to read
	}
	v, err := f.net.SSHView(port, c.Network.TailscaleInterface)
	if err != nil {
		return fmt.Errorf("checking the open SSH sessions before changing ufw: %w", err)
	}
	if err := CheckSSH(st, desired, DesiredDefaults(), port, c.Firewall.SSHSources, v); err != nil {
		f.log.Error("refusing a ufw change that would lock SSH out", zap.Error(err))
		return err
	}
	f.log.Info("ssh guard passed", zap.Int("sessions", len(v.Sessions)), zap.Bool("uplink", v.Uplink != nil))
	return nil
}

func (f *Firewall) install(ctx context.Context, c *config.Cluster) (State, error) {
	if c.Firewall.IfMissing != "install" {
		return State{}, ErrUFWMissing
	}
	f.log.Info("installing ufw")
	if _, err := f.run.Run(ctx, installArgv[0], installArgv[1:]...); err != nil {
		return State{}, fmt.Errorf("installing ufw: %w", err)
	}
	st, err := f.Observe(ctx)
	if err != nil {
		return State{}, err
	}
	if !st.Installed {
		return State{}, fmt.Errorf("installing ufw: still no ufw command after apt-get")
	}
	return st, nil
}

// Plan shows the exact commands Apply would run now, reading the live
// state and changing nothing.
func (f *Firewall) Plan(ctx context.Context, c *config.Cluster, n config.Node) (plan.Step, error) {
	if !c.Firewall.IsEnabled() || !hasSSH(Desired(c, n)) {
		// Nothing to read: a disabled firewall is left alone, and a policy
		// without SSH is refused before anything is looked at.
		return planFrom(State{}, c, n)
	}
	st, err := f.Observe(ctx)
	if err != nil {
		return plan.Step{}, err
	}
	return planFrom(st, c, n)
}

// FreshPlan is the plan for a node whose ufw is freshly installed: what
// `plan` shows for a node other than the machine it runs on.
func FreshPlan(c *config.Cluster, n config.Node) (plan.Step, error) {
	step, err := planFrom(State{Installed: true, Defaults: packageDefaults()}, c, n)
	if err == nil && c.Firewall.IsEnabled() {
		step.Notes = []string{fmt.Sprintf("%d rules, computed for a fresh ufw; on the node itself only the difference to its live rules is applied", len(Desired(c, n)))}
	}
	return step, err
}

// planFrom is the plan against the ufw state st.
func planFrom(st State, c *config.Cluster, n config.Node) (plan.Step, error) {
	step := plan.Step{Name: "firewall", Summary: "UFW: deny incoming and routed, allow the cluster's ports"}
	if !c.Firewall.IsEnabled() {
		step.Notes = append(step.Notes, "firewall.enabled is false: ufw is left untouched")
		return step, nil
	}
	desired := Desired(c, n)
	if !hasSSH(desired) {
		return step, ErrNoSSHAccess
	}
	if !st.Installed {
		if c.Firewall.IfMissing != "install" {
			return step, ErrUFWMissing
		}
		step.Actions = append(step.Actions, plan.Action{Description: "install ufw",
			Commands: []string{host.QuoteArgv(installArgv[0], installArgv[1:])}})
	}
	for _, ch := range Changes(st, desired, DesiredDefaults()) {
		step.Actions = append(step.Actions, plan.Action{Description: ch.Description,
			Commands: []string{host.QuoteArgv("ufw", ch.Args)}})
	}
	if len(step.Actions) == 0 {
		step.Notes = append(step.Notes, fmt.Sprintf("ufw already matches the policy (%d rules)", len(desired)))
	}
	return step, nil
}

func hasSSH(rs []Rule) bool {
	for _, r := range rs {
		if strings.HasPrefix(r.Comment, tagSSH) {
			return true
		}
	}
	return false
}
