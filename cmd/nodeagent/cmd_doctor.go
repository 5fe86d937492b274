package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/preflight"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

func newDoctorCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can join: cluster file, identity, token, kernel, clock, ufw",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := doctorChecks(g, cmd.Context())
			failed := 0
			for _, c := range checks {
				mark := "ok  "
				if !c.OK {
					mark = "WARN"
					if c.Severity == preflight.SeverityError {
						mark, failed = "FAIL", failed+1
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-14s %s\n", mark, c.Name, c.Message)
				if !c.OK && c.Fix != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "     %-14s fix: %s\n", "", c.Fix)
				}
			}
			if failed > 0 {
				return &cli.ExitError{Code: 1}
			}
			return nil
		},
	}
}

func doctorChecks(g *cli.Globals, ctx context.Context) []preflight.Check {
	root := g.HostRoot()
	var out []preflight.Check
	f, err := g.LoadCluster()
	if err != nil {
		return append(out, preflight.Check{Name: "cluster-file", Severity: preflight.SeverityError, Message: err.Error(), Fix: "nodeagent validate"})
	}
	out = append(out, preflight.Check{Name: "cluster-file", OK: true, Message: f.Source})
	n, err := g.ThisNode(f)
	if err != nil {
		return append(out, preflight.Check{Name: "identity", Severity: preflight.SeverityError, Message: err.Error()})
	}
	out = append(out, preflight.Check{Name: "identity", OK: true, Message: fmt.Sprintf("%s (%s, %s)", n.Name, n.Role, n.Address)})
	tok := preflight.Check{Name: "token", Severity: preflight.SeverityError, OK: true, Message: f.K3s.TokenFile + " is readable by root only"}
	if _, err := k3s.ReadToken(root.Path(f.K3s.TokenFile)); err != nil {
		tok.OK, tok.Message, tok.Fix = false, err.Error(), "nodeagent token generate on one node, then copy the file to every node"
	}
	out = append(out, tok)
	out = append(out, preflight.HostChecks(root)...)
	out = append(out, timeCheck(ctx, g))
	if f.Firewall.IsEnabled() {
		c := preflight.Check{Name: "ufw", Severity: preflight.SeverityWarning, OK: true, Message: "ufw is installed"}
		if _, err := exec.LookPath("ufw"); err != nil {
			c.OK, c.Message, c.Fix = false, "ufw is not installed", "apt-get install ufw (or firewall.ifMissing: install)"
		}
		out = append(out, c)
	}
	return out
}

func timeCheck(ctx context.Context, g *cli.Globals) preflight.Check {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sd, err := systemd.New(ctx, g.Log, g.HostRoot())
	if err != nil {
		return preflight.Check{Name: "time-sync", Severity: preflight.SeverityWarning, Message: "cannot ask timedated: " + err.Error()}
	}
	defer sd.Close()
	return preflight.CheckTimeSync(func() (bool, error) {
		ok, err := sd.TimeSynced(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Errorf("timedated did not answer")
		}
		return ok, err
	})
}
