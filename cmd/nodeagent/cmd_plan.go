package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/serverwork"
)

func newPlanCommand(g *cli.Globals) *cobra.Command {
	var output string
	var opts agent.PlanOptions
	var showManifests bool
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
			f, err := g.LoadCluster()
			if err != nil {
				return err
			}
			nodes, local, err := nodesToPlan(g, f)
			if err != nil {
				return err
			}
			opts.Root, opts.Log = g.HostRoot(), g.Log
			opts.Runner = host.NewExecRunner(g.Log)
			var plans []plan.Node
			for _, n := range nodes {
				opts.Live = local && canReadHost()
				p, err := agent.Plan(cmd.Context(), f, n, opts)
				if err != nil {
					return fmt.Errorf("planning %s: %w", n.Name, err)
				}
				plans = append(plans, p)
			}
			cp, err := serverwork.ClusterPlan(f, g.HostRoot(), showManifests)
			if err != nil {
				return err
			}
			plans = append(plans, cp)
			if output == "json" {
				return plan.WriteJSON(cmd.OutOrStdout(), plans)
			}
			return plan.WriteText(cmd.OutOrStdout(), plans)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().BoolVar(&showManifests, "show-manifests", false, "print every manifest instead of a summary")
	return cmd
}

// nodesToPlan is this node, or every node when the machine is none of them
// and no --node was given. local tells whether the planned node is this
// machine (by hostname or address, not only by --node), whose live state the
// plan may read.
func nodesToPlan(g *cli.Globals, f *config.File) (nodes []config.Node, local bool, err error) {
	facts, err := identity.LocalFacts()
	if err != nil {
		g.Log.Debug("cannot read local identity", zap.Error(err))
	}
	n, err := identity.Resolve(&f.Cluster, g.NodeName, facts)
	if errors.Is(err, identity.ErrNotANode) {
		return f.Nodes, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	self, selfErr := identity.Resolve(&f.Cluster, "", facts)
	return []config.Node{n}, selfErr == nil && self.Name == n.Name, nil
}

// canReadHost reports whether live reads (ufw's rules, blkid) are possible:
// they need root.
func canReadHost() bool { return os.Geteuid() == 0 }
