package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// The server work as commands of their own: what a homelab owner runs to
// check quorum or re-apply the manifests now, and what the daemon runs as a
// child for its quorum and manifests phases (--report lines).

func newQuorumCommand(g *cli.Globals) *cobra.Command {
	var wait bool
	var report string
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Show etcd's members and quorum from this server; --wait until there is quorum",
		Long: `quorum reads etcd's members and their health through the etcd v3 client, as
the quorum gate does, and exits 1 when the servers the cluster file names have
no healthy majority. With --wait it waits for one, up to apply.quorumTimeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				if wait {
					return p.WaitQuorum(ctx, status)
				}
				e, err := p.Etcd(ctx)
				if err != nil {
					return err
				}
				var b strings.Builder
				writeEtcd(&b, e)
				io.WriteString(cmd.OutOrStdout(), b.String())
				if !e.Quorum {
					return fmt.Errorf("no quorum: %s", e.Summary)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until etcd has quorum (up to apply.quorumTimeout)")
	addReportFlag(cmd, &report)
	return cmd
}

func newApplyCommand(g *cli.Globals) *cobra.Command {
	var report string
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Apply the platform and workload manifests now, as holder of the apply lease",
		Long: `apply renders the cluster's manifests and the overlay directory and applies
them server-side, in phases, once this server holds the apply lease; another
server holding it means that one applies. It stops between steps if etcd
loses quorum. The daemon runs it on every resync of a server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				return p.ApplyManifests(ctx, status)
			})
		},
	}
	addReportFlag(cmd, &report)
	return cmd
}

// newRestartTurnCommand is the daemon's plumbing for a rolling k3s restart;
// the turn is a Lease, so it outlives the child that claimed it.
// --version is the k3s version the restart installs: a claim records it as
// the rollout in progress (and is refused for a version that failed), a
// release also waits for the Node to report it, and fail records that it
// did not come back here (--reason) and releases once etcd is healthy.
func newRestartTurnCommand(g *cli.Globals) *cobra.Command {
	var report, version, reason string
	cmd := &cobra.Command{
		Use:       "restart-turn claim|release|fail [--version V] [--reason TEXT]",
		Short:     "Claim, release or fail this server's turn to restart k3s (kube-system/" + serverwork.RestartLeaseName + ")",
		Hidden:    true,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"claim", "release", "fail"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "fail" && version == "" {
				return errors.New("restart-turn fail: --version is required")
			}
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				switch args[0] {
				case "claim":
					return p.ClaimRestart(ctx, version, status)
				case "fail":
					return p.FailRestart(ctx, version, reason, status)
				}
				return p.ReleaseRestart(ctx, version, status)
			})
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the k3s version the restart installs")
	cmd.Flags().StringVar(&reason, "reason", "", "why the version did not come back (fail)")
	addReportFlag(cmd, &report)
	return cmd
}

// newStaleMemberCommand is the daemon's plumbing for a server that joins
// while its old etcd member is still listed (a re-flashed Pi): before k3s
// first starts, it removes that member through the server the join goes
// through, when quorum.DecideStaleMember allows it. The token is read from
// the token file, never passed.
func newStaleMemberCommand(g *cli.Globals) *cobra.Command {
	var via, caHash, report string
	cmd := &cobra.Command{
		Use:    "stale-member --via URL --ca HASH",
		Short:  "Remove this server's dead etcd member, left by an earlier life of the node, through the server at --via",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				return p.ReplaceStaleMember(ctx, via, caHash, status)
			})
		},
	}
	cmd.Flags().StringVar(&via, "via", "", "supervisor URL of the server the join goes through (https://<addr>:6443)")
	cmd.Flags().StringVar(&caHash, "ca", "", "sha256 of the cluster CA that server must serve on /cacerts")
	_ = cmd.MarkFlagRequired("via")
	_ = cmd.MarkFlagRequired("ca")
	addReportFlag(cmd, &report)
	return cmd
}

func newRemoveNodeCommand(g *cli.Globals) *cobra.Command {
	var force bool
	var report string
	cmd := &cobra.Command{
		Use:   "remove-node NAME",
		Short: "Remove a node that is gone for good: cordon, evict its pods, delete its Node, wait for its etcd member to go",
		Long: `remove-node, run on a healthy server, removes a node that is gone for good: it
cordons the Node, evicts its pods through the eviction API (honouring
PodDisruptionBudgets for up to 2 minutes), deletes the Node and waits until
k3s's member controller has removed the node's etcd member. It refuses when
the node looks alive (its etcd member healthy, or its Node Ready with a
heartbeat younger than a minute) or when removing its member would leave the
other voters without a healthy majority, and says why; --force removes it
anyway. It never removes the node it runs on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				return p.RemoveNode(ctx, args[0], force, status)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the node even if it looks alive, its pods cannot be evicted, or quorum would suffer")
	addReportFlag(cmd, &report)
	return cmd
}

// newRemoveLeftAgentCommand is the servers' daemons' half of an agent's
// leave: the agent may not delete its own Node, so it labels it and a
// server runs this.
func newRemoveLeftAgentCommand(g *cli.Globals) *cobra.Command {
	var report string
	cmd := &cobra.Command{
		Use:    "remove-left-agent NAME",
		Short:  "Delete the Node of agent NAME, which asked for it when it left (label " + kube.LeaveRequestSelector() + "), once its heartbeat is a minute old",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				return p.RemoveLeftAgent(ctx, args[0], status)
			})
		},
	}
	addReportFlag(cmd, &report)
	return cmd
}

func addReportFlag(cmd *cobra.Command, report *string) {
	cmd.Flags().StringVar(report, "report", "terminal", "progress format: terminal, or "+child.ReportLines+" for the daemon")
	_ = cmd.Flags().MarkHidden("report")
}

// runServerWork builds this server's work and runs fn with progress in the
// --report format.
func runServerWork(cmd *cobra.Command, g *cli.Globals, report string, fn func(context.Context, *serverwork.Work, func(string)) error) error {
	out := cmd.OutOrStdout()
	status := func(text string) { fmt.Fprintf(out, "  … %s\n", text) }
	fail := func(err error) error { return err }
	ctx := cmd.Context()
	switch report {
	case "terminal":
	case child.ReportLines:
		status = func(text string) { child.WriteStatusLine(out, text) }
		ctx = host.WithProgress(ctx, child.ProgressLines(out, host.RealClock{}))
		fail = func(err error) error {
			child.WriteErrorLine(out, err)
			return err
		}
	default:
		return fmt.Errorf("--report %q: want terminal or %s", report, child.ReportLines)
	}
	f, err := g.LoadCluster()
	if err != nil {
		return fail(err)
	}
	n, err := g.ThisNode(f)
	if err != nil {
		return fail(err)
	}
	if n.Role != config.RoleServer {
		return fail(fmt.Errorf("node %s is a k3s agent: quorum and manifests are the servers' work", n.Name))
	}
	p := newServerWork(g, f, n)
	defer p.Close()
	if err := fn(ctx, p, status); err != nil {
		return fail(err)
	}
	return nil
}
