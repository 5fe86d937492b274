package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/serverwork"
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

An agent has only its kubelet's credentials (` + kube.KubeletKubeconfig + `),
which the Node authorizer and NodeRestriction bound to its own Node and the
pods bound to it: leave records the leave, stops and disables nodeagent,
cordons its Node, evicts its pods (PodDisruptionBudgets honoured for up to
2 minutes, DaemonSet and mirror pods left), waits for the kubelet to end
them, then stops and disables k3s-agent. No node may delete a Node, its own
included: leave labels its Node ` + kube.LeaveRequestSelector() + ` instead, and
the servers' daemons (which look every 30 s) delete it once its heartbeat is
a minute old; ` + "`nodeagent remove-node NAME`" + ` on a server does it at once. k3s
then deletes its node password Secret, so a re-flashed Pi of that name can
join again.

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
				return leaveAgent(cmd.Context(), g, n, committed, stop, status)
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

// leaveAgent drains this agent with its kubelet's credentials
// (serverwork.AgentLeaver), stops k3s-agent, and says what a server must
// finish.
func leaveAgent(ctx context.Context, g *cli.Globals, n config.Node, committed func() error, stop func(string) error, status func(string)) error {
	unit := k3s.UnitName(n.Role)
	kubeconfig := g.HostRoot().Path(kube.KubeletKubeconfig)
	if _, err := os.Stat(kubeconfig); errors.Is(err, fs.ErrNotExist) {
		status("no " + kube.KubeletKubeconfig + ": k3s-agent never registered " + n.Name + ", nothing to drain")
		if err := errors.Join(committed(), stop(unit)); err != nil {
			return err
		}
		status(fmt.Sprintf("%s stopped; should a Node %s be listed, `nodeagent remove-node %s` on a server deletes it", n.Name, n.Name, n.Name))
		return nil
	}
	cfg, err := kube.RestConfig(kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the kubelet's client: %w", err)
	}
	l := &serverwork.AgentLeaver{Client: client, Clock: host.RealClock{}, Log: g.Log, Self: n.Name}
	left, err := l.Leave(ctx, committed, status)
	if err != nil {
		return err
	}
	if err := stop(unit); err != nil {
		return err
	}
	if left.Remaining != "" {
		status(n.Name + " stopped; left to a server: " + left.Remaining)
		return nil
	}
	status(n.Name + " left: Node deleted, " + unit + " stopped")
	return nil
}
