package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

func newLeaveCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "leave",
		Short: "Take this node out of the cluster: cordon, evict, delete its Node (and so its etcd member), stop k3s",
		Long: `leave, run on the node that is to leave, takes it out of the cluster.

On a server it first reads etcd's members and refuses when removing this
node's member would leave the other servers without a healthy majority (the
last server, or one of three while another is down). Otherwise it records
that the node left (` + agent.LeftPath + `), stops and disables the
nodeagent daemon, cordons this Node, evicts its pods through the eviction
API (honouring PodDisruptionBudgets for up to 2 minutes), deletes the Node,
waits, through another server's etcd, until k3s's member controller has
removed this node's etcd member, and stops and disables k3s.

An agent has no admin credentials: leave records the leave, stops and
disables nodeagent and k3s-agent, and says to run ` + "`nodeagent remove-node NAME`" + `
on a server, which drains and deletes the Node once its heartbeat is stale.

While the record is there, ` + "`nodeagent join`" + ` and the daemon refuse to bring the
node back; ` + "`nodeagent uninstall`" + ` removes k3s and the record, after which join
joins the node afresh.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.LoadCluster()
			if err != nil {
				return err
			}
			n, err := g.ThisNode(f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			status := func(text string) { fmt.Fprintf(out, "  … %s\n", text) }
			run := host.NewExecRunner(g.Log)
			stop := func(unit string) error {
				// `systemctl cat` fails for a unit that is not installed
				// (nodeagent run by hand, without its package).
				if _, err := run.Run(cmd.Context(), "systemctl", "cat", unit); err != nil {
					status(unit + " is not installed")
					return nil
				}
				status("stopping and disabling " + unit)
				_, err := run.Run(cmd.Context(), "systemctl", "disable", "--now", unit)
				return err
			}
			committed := func() error {
				if err := agent.RecordLeft(g.HostRoot(), n.Name, host.RealClock{}.Now()); err != nil {
					return fmt.Errorf("recording the leave: %w", err)
				}
				return stop("nodeagent.service")
			}
			if n.Role != config.RoleServer {
				return leaveAgent(n, committed, stop, status)
			}
			p := newServerWork(g, f, n)
			defer p.Close()
			if err := p.Leave(cmd.Context(), committed, status); err != nil {
				return err
			}
			return stop(k3s.UnitName(n.Role))
		},
	}
}

// leaveAgent stops what an agent runs; its Node is deleted from a server
// (issue #18: an agent holds only its kubelet's node credentials).
func leaveAgent(n config.Node, committed func() error, stop func(string) error, status func(string)) error {
	if err := errors.Join(committed(), stop(k3s.UnitName(n.Role))); err != nil {
		return err
	}
	status(fmt.Sprintf("%s stopped; on a server, `nodeagent remove-node %s` drains and deletes its Node once its heartbeat is a minute old", n.Name, n.Name))
	return nil
}
