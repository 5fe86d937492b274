package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/plan"
)

func newPlanCommand(g *globals) *cobra.Command {
	var output string
	var opts agent.PlanOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show every step this node would take, changing nothing",
		Long: `plan prints the ordered steps of provisioning and the exact content nodeagent
would write (k3s config with the token redacted, unit files, mount, labels, UFW
rules, manifests), without touching the host. On a machine that is no node of
the cluster and without --node, it plans every node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			f, err := g.loadCluster()
			if err != nil {
				return err
			}
			nodes, err := g.nodesToPlan(f)
			if err != nil {
				return err
			}
			var plans []plan.Node
			for _, n := range nodes {
				p, err := agent.Plan(f, n, opts)
				if err != nil {
					return fmt.Errorf("planning %s: %w", n.Name, err)
				}
				plans = append(plans, p)
			}
			if output == "json" {
				return plan.WriteJSON(cmd.OutOrStdout(), plans)
			}
			return plan.WriteText(cmd.OutOrStdout(), plans)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().BoolVar(&opts.ShowManifests, "show-manifests", false, "print every manifest instead of a summary")
	return cmd
}

// nodesToPlan is this node, or every node when the machine is none of them
// and no --node was given.
func (g *globals) nodesToPlan(f *config.File) ([]config.Node, error) {
	facts, err := identity.LocalFacts()
	if err != nil {
		g.log.Debug("cannot read local identity", zap.Error(err))
	}
	n, err := identity.Resolve(&f.Cluster, g.node, facts)
	if errors.Is(err, identity.ErrNotANode) {
		return f.Nodes, nil
	}
	if err != nil {
		return nil, err
	}
	return []config.Node{n}, nil
}
