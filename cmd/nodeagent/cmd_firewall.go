package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/host"
)

func newFirewallCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "firewall", Short: "The node's UFW policy"}
	undo := &cobra.Command{
		Use:   "undo",
		Short: "Put UFW back as nodeagent found it: its rules go, defaults and enabled state return",
		Long: `Put UFW back as nodeagent found it, in what nodeagent alone changed.

nodeagent's rules (comments ` + firewall.OwnerTag + `*) are deleted; the default policies and
the enabled state return to what nodeagent recorded before its first change
(` + firewall.BeforePath + `). A UFW the owner had enabled stays enabled; one that
nodeagent enabled is disabled first, so SSH stays reachable throughout. The
owner's own rules are kept. Removing the package runs this; a running
daemon would put the policy back, so stop it first (systemctl stop nodeagent).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("changing UFW needs root")
			}
			fw := firewall.New(g.HostRoot(), host.NewExecRunner(g.Log), g.Log)
			res, err := fw.Undo(cmd.Context())
			out := cmd.OutOrStdout()
			for _, ch := range res.Applied {
				fmt.Fprintf(out, "ufw: %s\n", ch.Description)
			}
			for _, l := range res.Left {
				fmt.Fprintf(out, "left: %s\n", l)
			}
			if err == nil && len(res.Applied)+len(res.Left) == 0 {
				fmt.Fprintln(out, "ufw: nothing of nodeagent's to undo")
			}
			return err
		},
	}
	cmd.AddCommand(undo)
	return cmd
}
