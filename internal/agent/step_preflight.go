package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// preflightStep makes sure k3s can run: the memory cgroup (a reboot away on
// a fresh Pi), a synchronised clock before any TLS, the kernel modules.
type preflightStep struct{ a *Agent }

func (preflightStep) Name() string  { return StepPreflight }
func (preflightStep) Applies() bool { return true }

func (s preflightStep) Apply(ctx context.Context) error {
	a := s.a
	if c := preflight.CheckMemoryCgroup(a.Root); !c.OK {
		res, err := preflight.EnsureCmdline(a.Root)
		if err != nil {
			return err
		}
		if res.RebootRequired {
			return a.rebootForCmdline(ctx, res, c)
		}
		// The flags are in effect and the controller is still off (a later
		// cgroup_disable=memory, a kernel without it): k3s would only fail
		// with "failed to find memory cgroup", so stop here and say why.
		a.log.Error("memory cgroup off although the kernel command line enables it",
			zap.String("reason", c.Message), zap.String("fix", c.Fix))
		// The error reaches STATUS: its first clauses; the line above and
		// `nodeagent doctor` have the whole explanation.
		return fmt.Errorf("%w: %s; fix: %s", ErrMemoryCgroup, firstClause(c.Message, ";"), firstClause(c.Fix, ":", ";", " ("))
	}
	for _, c := range preflight.CheckModules(a.Root, preflight.RequiredModules) {
		if !c.OK {
			// k3s's unit loads br_netfilter and overlay itself; say so, go on.
			a.log.Warn("kernel module check", zap.String("check", c.Name), zap.String("message", c.Message))
		}
	}
	if a.Systemd == nil {
		return nil
	}
	synced := func() (bool, error) { return a.Systemd.TimeSynced(ctx) }
	pf := a.cluster().Preflight
	if pf.TimeSync == config.TimeSyncWarn {
		if c := preflight.CheckTimeSync(synced); !c.OK {
			a.log.Warn("clock not synchronised: going on as preflight.timeSync is warn", zap.String("message", c.Message))
		}
		return nil
	}
	a.Reporter.Status("waiting for the clock to be synchronised (the Pi has no RTC)")
	return preflight.WaitTimeSync(ctx, a.Clock, synced, pf.TimeSyncTimeout.Duration, 2*time.Second)
}

func (s preflightStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	st := plan.Step{Name: StepPreflight, Summary: "Raspberry Pi checks (`nodeagent doctor` reports them)"}
	if !live {
		st.Notes = []string{
			"memory cgroup: add cgroup_memory=1 cgroup_enable=memory to /boot/firmware/cmdline.txt (or /boot/cmdline.txt) once, with a backup; reboot once (preflight.reboot: " + s.a.cluster().Preflight.Reboot + ") or ask for a reboot; stop before k3s if the flags are in effect and the controller is still off",
			"wait for the clock to be synchronised (timedated NTPSynchronized) before any TLS: the Pi has no RTC",
			"kernel modules br_netfilter, overlay, vxlan; swap on is a warning",
		}
		return st, nil
	}
	if c := preflight.CheckMemoryCgroup(s.a.Root); !c.OK {
		path, line, changed, err := preflight.CmdlineEdit(s.a.Root)
		switch {
		case err != nil:
			st.Notes = append(st.Notes, "memory cgroup off and "+err.Error())
		case changed:
			st.Actions = append(st.Actions, plan.Action{Description: "enable the memory cgroup (backup " + path + ".nodeagent.bak), then stop for a reboot",
				File: &plan.File{Path: path, Mode: "(kept)", Content: line}})
		default:
			st.Actions = append(st.Actions, plan.Action{Description: path + " enables the memory cgroup already: stop for a reboot"})
		}
	}
	checks := preflight.HostChecks(s.a.Root)
	if s.a.Systemd != nil {
		checks = s.Checks(ctx) // with the clock
	} else {
		st.Notes = append(st.Notes, "wait for the clock to be synchronised before any TLS (not read: plan does not ask timedated)")
	}
	for _, c := range checks {
		st.Notes = append(st.Notes, checkLine(c))
	}
	return st, nil
}

// Checks are the host checks and the clock, each with its fix.
func (s preflightStep) Checks(ctx context.Context) []preflight.Check {
	checks := preflight.HostChecks(s.a.Root)
	if s.a.Systemd == nil {
		return append(checks, preflight.Check{Name: "time-sync", Severity: preflight.SeverityWarning,
			Message: "cannot ask timedated: no connection to systemd"})
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	clock := preflight.CheckTimeSync(func() (bool, error) {
		ok, err := s.a.Systemd.TimeSynced(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Errorf("timedated did not answer")
		}
		return ok, err
	})
	return append(checks, clockCheck(clock, s.a.cluster().Preflight.TimeSync))
}

// clockCheck is a warning, not a failure, where the owner chose to join
// without a synchronised clock (preflight.timeSync: warn).
func clockCheck(c preflight.Check, mode string) preflight.Check {
	if !c.OK && mode == config.TimeSyncWarn {
		c.Severity = preflight.SeverityWarning
		c.Message += " (preflight.timeSync: warn: the join goes on)"
	}
	return c
}

func (preflightStep) Status(context.Context, *StatusReport) error { return nil }

func checkLine(c preflight.Check) string {
	mark := "ok"
	if !c.OK {
		mark = strings.ToUpper(string(c.Severity))
	}
	return c.Name + ": " + mark + ": " + c.Message
}

// firstClause is s up to the first of the separators.
func firstClause(s string, seps ...string) string {
	for _, sep := range seps {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	return s
}
