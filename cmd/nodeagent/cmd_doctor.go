package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/preflight"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

// connectSystemd reaches systemd and timedated over D-Bus; tests give doctor
// one that fails, so the clock check does not depend on the test machine.
type connectSystemd func(ctx context.Context, g *cli.Globals) (*systemd.Manager, error)

func dialSystemd(ctx context.Context, g *cli.Globals) (*systemd.Manager, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return systemd.New(ctx, g.Log, g.HostRoot())
}

func newDoctorCommand(g *cli.Globals, connect connectSystemd) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can join: cluster file, identity, token, k3s release, kernel, clock, ufw, disk selectors; on a joined server, the Secrets the workloads need",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := doctorChecks(cmd.Context(), g, connect)
			width := 14
			for _, c := range checks {
				width = max(width, len(c.Name))
			}
			failed := 0
			for _, c := range checks {
				mark := "ok  "
				if !c.OK {
					mark = "WARN"
					if c.Severity == preflight.SeverityError {
						mark, failed = "FAIL", failed+1
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-*s %s\n", mark, width, c.Name, c.Message)
				if !c.OK && c.Fix != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "     %-*s fix: %s\n", width, "", c.Fix)
				}
			}
			if failed > 0 {
				return &cli.ExitError{Code: 1}
			}
			return nil
		},
	}
}

// doctorChecks finds the cluster file and this node, then asks every step
// of the agent's table for its checks. It needs no root and changes nothing.
func doctorChecks(ctx context.Context, g *cli.Globals, connect connectSystemd) []preflight.Check {
	var out []preflight.Check
	f, err := g.LoadCluster()
	if err != nil {
		return append(out, preflight.Check{Name: "cluster-file", Severity: preflight.SeverityError, Message: err.Error(), Fix: "nodeagent validate"})
	}
	if f.Source == config.BuiltinName {
		// The built-in homelab is an example to plan with, never this
		// machine's configuration (ThisNode refuses it too).
		return append(out, preflight.Check{Name: "cluster-file", Severity: preflight.SeverityError, Message: identity.ErrNoClusterFile.Error()})
	}
	out = append(out, preflight.Check{Name: "cluster-file", OK: true, Message: f.Source})
	n, err := g.ThisNode(f)
	if err != nil {
		return append(out, preflight.Check{Name: "identity", Severity: preflight.SeverityError, Message: err.Error()})
	}
	out = append(out, preflight.Check{Name: "identity", OK: true, Message: fmt.Sprintf("%s (%s, %s)", n.Name, n.Role, n.Address)})
	sd, err := connect(ctx, g)
	if err != nil {
		g.Log.Debug("cannot reach systemd: the clock check says so", zap.Error(err))
		sd = nil
	} else {
		defer sd.Close()
	}
	a := agent.New(agent.Deps{Log: g.Log, File: f, Node: n, Root: g.HostRoot(), Runner: host.NewExecRunner(g.Log),
		Clock: host.RealClock{}, Reporter: &agent.TerminalReporter{W: io.Discard}, Systemd: sd})
	defer a.Close()
	out = append(out, a.Doctor(ctx)...)
	return append(out, secretChecks(ctx, g, f, n)...)
}
