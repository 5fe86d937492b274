package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

func newValidateCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the cluster file and list every problem with file:line and field",
		Long: `validate decodes the cluster file strictly and lists every problem as
file:line: field: message. It then renders the manifests and checks capacity:
a workload whose HARD placement no node can meet is an error, a single node
failure that leaves a workload without room is a warning. On a node where
nodeagent installed k3s, k3s.version is checked against the installed
version: a downgrade, or a jump of more than one minor version (Kubernetes'
version skew policy), is an error; elsewhere validate says it could not check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			f, err := g.LoadCluster()
			if err != nil {
				fmt.Fprintln(stderr, err)
				return &cli.ExitError{Code: 1}
			}
			report, err := capacity.Check(&f.Cluster)
			if err != nil {
				fmt.Fprintf(stderr, "%s: rendering manifests: %v\n", f.Source, err)
				return &cli.ExitError{Code: 1}
			}
			for _, w := range report.Warnings {
				fmt.Fprintf(stderr, "%s: warning: %s\n", f.Source, w)
			}
			for _, e := range report.Errors {
				fmt.Fprintf(stderr, "%s: capacity: %s\n", f.Source, e)
			}
			if len(report.Errors) > 0 {
				return &cli.ExitError{Code: 1}
			}
			installed, err := k3s.CheckInstalled(g.HostRoot(), zap.NewNop(), &f.Cluster)
			if err != nil {
				fmt.Fprintln(stderr, f.ErrorsOf([]config.FieldError{f.Problem("k3s.version", "%v", err)}))
				return &cli.ExitError{Code: 1}
			}
			if installed == "" {
				fmt.Fprintf(stderr, "%s: note: k3s.version %s not checked against an installed k3s (none verified by nodeagent on this host)\n", f.Source, f.K3s.Version)
			} else {
				fmt.Fprintf(stderr, "%s: k3s.version %s may follow the installed %s\n", f.Source, f.K3s.Version, installed)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d nodes, %d servers, %d workloads, %d warnings)\n",
				f.Source, len(f.Nodes), len(f.Servers()), len(f.EnabledWorkloads()), len(report.Warnings))
			return nil
		},
	}
}
