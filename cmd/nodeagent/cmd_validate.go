package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/cli"
)

func newValidateCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the cluster file and list every problem with file:line and field",
		Long: `validate decodes the cluster file strictly and lists every problem as
file:line: field: message. It then renders the manifests and checks capacity:
a workload whose HARD placement no node can meet is an error, a single node
failure that leaves a workload without room is a warning.`,
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
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d nodes, %d servers, %d workloads, %d warnings)\n",
				f.Source, len(f.Nodes), len(f.Servers()), len(f.EnabledWorkloads()), len(report.Warnings))
			return nil
		},
	}
}
