package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/restore"
	"github.com/nodeagent/nodeagent/internal/serverwork"
)

// restoreLockWait is how long restore waits for a daemon pass in progress.
const restoreLockWait = 2 * time.Minute

func newRestoreCommand(g *cli.Globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT [--yes]",
		Short: "Restore etcd from a snapshot on this server; the other servers move their etcd data aside and rejoin",
		Long: `restore, run on one server, restores the cluster's etcd from SNAPSHOT: a
path, or the name of a file in k3s's snapshot directory (` + restore.SnapshotDir + `)
or, on the node that holds it, in the cluster file's backups.dir.

Without --yes it says what it will do and exits 1, changing nothing. With
--yes it takes the node's lock (the daemon waits meanwhile), stops k3s, runs
k3s server --cluster-reset --cluster-reset-restore-path=SNAPSHOT (k3s reads
the token from config.yaml), checks that k3s said the reset is done, starts
k3s, waits for its etcd and API, and records the restore in
kube-system/` + restore.RecordName + `. Every change made after the snapshot is lost.

The daemon on every other server then sees that its etcd member is not in
the restored cluster and, only because that record is there, stops k3s,
moves ` + restore.DBDir + ` aside to a dated directory (kept), joins through this
server and starts k3s again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, g, args[0], yes)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "restore; without it, only say what would happen")
	return cmd
}

func runRestore(cmd *cobra.Command, g *cli.Globals, arg string, yes bool) error {
	f, n, err := thisServer(g, "it holds no etcd; run restore on a server")
	if err != nil {
		return err
	}
	root := g.HostRoot()
	s, err := restore.Resolve(root, arg, snapshotDirs(&f.Cluster, n))
	if err != nil {
		return err
	}
	var peers []string
	for _, p := range f.Cluster.Servers() {
		if p.Name != n.Name {
			peers = append(peers, p.Name)
		}
	}
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "nodeagent restore will:")
	for _, l := range restore.Describe(s, n.Name, peers) {
		fmt.Fprintf(out, "  - %s\n", l)
	}
	if !yes {
		return errors.New("refusing to restore without --yes: nothing changed")
	}
	if os.Geteuid() != 0 {
		return errors.New("restore needs root")
	}
	if _, err := os.Stat(root.Path(release.BinaryPath)); err != nil {
		return fmt.Errorf("k3s is not installed here (%w): nothing changed", err)
	}
	status := func(text string) { fmt.Fprintf(out, "  … %s\n", text) }
	unlock, err := agent.LockNode(cmd.Context(), root, host.RealClock{}, "nodeagent restore", restoreLockWait, status)
	if err != nil {
		return err
	}
	defer unlock()
	p := newServerWork(g, f, n)
	defer p.Close()
	r := &restore.Restorer{Root: root, Run: host.NewExecRunner(g.Log), Log: g.Log, Binary: root.Path(release.BinaryPath), Unit: k3s.UnitName(n.Role),
		Record: func(ctx context.Context, status func(string)) error {
			_, err := p.RecordRestore(ctx, s.Path, status)
			return err
		}}
	return r.Restore(cmd.Context(), s, status)
}

// snapshotDirs are where a snapshot name is looked up: k3s's snapshot
// directory, then the backups directory (and its etcd/) on the node that
// holds it.
func snapshotDirs(c *config.Cluster, n config.Node) []string {
	dirs := []string{restore.SnapshotDir}
	if c.Backups.Node == n.Name && c.Backups.Dir != "" {
		dirs = append(dirs, c.Backups.Dir, filepath.Join(c.Backups.Dir, "etcd"))
	}
	return dirs
}

// newRestoreRejoinCommand is the daemon's plumbing after a restore on
// another server (the check runs on every pass of a server that is an
// etcd member); by hand it does the same, once.
func newRestoreRejoinCommand(g *cli.Globals) *cobra.Command {
	var report string
	cmd := &cobra.Command{
		Use:    "restore-rejoin",
		Short:  "Rejoin the cluster restored on another server (kube-system/" + restore.RecordName + "), moving this server's etcd data aside",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				return p.RejoinRestored(ctx, status)
			})
		},
	}
	addReportFlag(cmd, &report)
	return cmd
}

// newRestoreRecordCommand records a restore again, when restore could not.
func newRestoreRecordCommand(g *cli.Globals) *cobra.Command {
	var report string
	cmd := &cobra.Command{
		Use:    "restore-record SNAPSHOT",
		Short:  "Record in kube-system/" + restore.RecordName + " that this server's etcd was restored from SNAPSHOT",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				_, err := p.RecordRestore(ctx, args[0], status)
				return err
			})
		},
	}
	addReportFlag(cmd, &report)
	return cmd
}
