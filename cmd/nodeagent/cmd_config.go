package main

import (
	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
)

func newConfigCommand(_ *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the cluster file",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the built-in homelab cluster file as a starting point",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.DefaultYAML())
			return err
		},
	})
	return cmd
}
