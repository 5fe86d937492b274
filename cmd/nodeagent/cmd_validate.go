package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the cluster file and list every problem with file:line and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadCluster()
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return &exitError{code: 1}
			}
			for _, w := range f.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", f.Source, w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d nodes, %d servers, %d workloads)\n",
				f.Source, len(f.Nodes), len(f.Servers()), len(f.EnabledWorkloads()))
			return nil
		},
	}
}
