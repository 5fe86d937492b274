package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

func newTokenCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the cluster's shared k3s token"}
	var file string
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write a new random token file (mode 0600) to copy to every node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				f, err := g.LoadCluster()
				if err != nil {
					return err
				}
				file = g.HostRoot().Path(f.K3s.TokenFile)
			}
			if err := k3s.GenerateToken(file); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (mode 0600): copy it to the same path on every node\n", file)
			return nil
		},
	}
	gen.Flags().StringVar(&file, "file", "", "where to write the token (default: k3s.tokenFile of the cluster file)")
	cmd.AddCommand(gen)
	return cmd
}
