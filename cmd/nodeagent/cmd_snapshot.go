package main

import (
	"cmp"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/backups"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

func newSnapshotCommand(g *cli.Globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take an etcd snapshot now (on any server) and copy it off the SD card where this node can",
		Long: `snapshot runs k3s's own ` + "`k3s etcd-snapshot save`" + ` on this server: k3s writes the
snapshot to ` + backups.SnapshotDir + ` on the SD card and, when the cluster
file configures k3s.etcdSnapshots.s3, uploads it to the bucket.

On the backups node (backups.node) the snapshot is then copied to
backups.dir/` + backups.EtcdCopiesDir + ` on its HDD, if the HDD is mounted. Every server
holds the whole of etcd, so the backups node's scheduled snapshots are the
copies off the SD cards; run snapshot there for an HDD copy of this moment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, n, err := thisServer(g, "etcd runs on the servers; run snapshot on one of them")
			if err != nil {
				return err
			}
			root := g.HostRoot()
			dir := root.Path(backups.SnapshotDir)
			before, err := backups.ListSnapshots(dir)
			if err != nil {
				return err
			}
			args := []string{"etcd-snapshot", "save"}
			if name != "" {
				args = append(args, "--name", name)
			}
			if _, err := host.NewExecRunner(g.Log).Run(cmd.Context(), root.Path(release.BinaryPath), args...); err != nil {
				return fmt.Errorf("taking the snapshot: %w", err)
			}
			after, err := backups.ListSnapshots(dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			taken := newSnapshots(before, after)
			for _, s := range taken {
				fmt.Fprintf(out, "snapshot %s (%s) in %s\n", s.Name, humanBytes(s.Size), backups.SnapshotDir)
			}
			if s3 := f.Cluster.K3s.EtcdSnapshots.S3; s3.Enabled() {
				fmt.Fprintf(out, "k3s uploads it to s3://%s/%s at %s\n", s3.Bucket, s3.Folder, s3.Endpoint)
			}
			return copyToBackups(out, root, &f.Cluster, n, taken)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the snapshot's name prefix (k3s's default: on-demand)")
	return cmd
}

// copyToBackups copies the snapshots to the HDD on the backups node, or
// says where the HDD copies come from. The daemon, woken by the same
// snapshot, may have copied it first: each snapshot taken is reported by
// whether its copy is there, whoever made it.
func copyToBackups(out io.Writer, root host.Root, c *config.Cluster, n config.Node, taken []backups.Snapshot) error {
	e, ok := backups.ForNode(root, c, n)
	if !ok {
		if c.Backups.Enabled() {
			fmt.Fprintf(out, "the HDD copies are made on %s, of its own snapshots (%s)\n", c.Backups.Node, c.Backups.Dir)
		}
		return nil
	}
	res, err := e.Sync()
	switch {
	case err != nil:
		return fmt.Errorf("copying to %s: %w", e.CopiesDir(), err)
	case res.NotMounted:
		return fmt.Errorf("not copied to %s: the disk at %s is not mounted (nothing is written to the SD card under it); the daemon copies it once the disk is back",
			c.Backups.Dir, e.MountPoint)
	}
	copies, err := backups.ListSnapshots(e.CopiesDir())
	if err != nil {
		return err
	}
	for _, s := range taken {
		if !slices.ContainsFunc(copies, func(c backups.Snapshot) bool { return c.Name == s.Name && c.Size == s.Size }) {
			return fmt.Errorf("snapshot %s has no copy in %s", s.Name, e.CopiesDir())
		}
		fmt.Fprintf(out, "copied %s to %s\n", s.Name, path.Join(c.Backups.Dir, backups.EtcdCopiesDir))
	}
	return nil
}

func newSnapshots(before, after []backups.Snapshot) []backups.Snapshot {
	var out []backups.Snapshot
	for _, s := range after {
		if !slices.ContainsFunc(before, func(b backups.Snapshot) bool { return b.Name == s.Name }) {
			out = append(out, s)
		}
	}
	return out
}

func newSnapshotsCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshots",
		Short: "List this server's etcd snapshots and where each one's copies are",
		Long: `snapshots lists the etcd snapshots in ` + backups.SnapshotDir + ` (the SD card)
and, on the backups node, the copies in backups.dir on its HDD: one line
each, newest first, with where it is: "sd", "hdd" or both. Snapshots in S3
are k3s's to list: ` + "`k3s etcd-snapshot ls`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, n, err := thisServer(g, "etcd snapshots are on the servers")
			if err != nil {
				return err
			}
			root := g.HostRoot()
			local, err := backups.ListSnapshots(root.Path(backups.SnapshotDir))
			if err != nil {
				return err
			}
			var copies []backups.Snapshot
			e, onBackupsNode := backups.ForNode(root, &f.Cluster, n)
			if onBackupsNode {
				if copies, err = backups.ListSnapshots(e.CopiesDir()); err != nil {
					return err
				}
			}
			return printSnapshots(cmd.OutOrStdout(), local, copies, onBackupsNode, &f.Cluster)
		},
	}
}

func printSnapshots(out io.Writer, local, copies []backups.Snapshot, onBackupsNode bool, c *config.Cluster) error {
	where := map[string][]string{}
	byName := map[string]backups.Snapshot{}
	for _, s := range local {
		where[s.Name] = append(where[s.Name], "sd")
		byName[s.Name] = s
	}
	for _, s := range copies {
		where[s.Name] = append(where[s.Name], "hdd")
		byName[s.Name] = s
	}
	all := make([]backups.Snapshot, 0, len(byName))
	for _, s := range byName {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b backups.Snapshot) int {
		return cmp.Or(cmp.Compare(b.Taken, a.Taken), cmp.Compare(a.Name, b.Name))
	})
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTAKEN (UTC)\tSIZE\tWHERE")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, time.Unix(s.Taken, 0).UTC().Format("2006-01-02 15:04"),
			humanBytes(s.Size), joinWhere(where[s.Name]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(out, "no snapshots yet: k3s takes them on k3s.etcdSnapshots.schedule, or now with `nodeagent snapshot`")
	}
	switch {
	case !c.Backups.Enabled():
		fmt.Fprintln(out, "no backups directory in the cluster file: every copy here is on the SD card")
	case !onBackupsNode:
		fmt.Fprintf(out, "HDD copies: on %s, in %s\n", c.Backups.Node, c.Backups.Dir)
	}
	if s3 := c.K3s.EtcdSnapshots.S3; s3.Enabled() {
		fmt.Fprintf(out, "S3 copies: s3://%s/%s at %s (`k3s etcd-snapshot ls` lists them)\n", s3.Bucket, s3.Folder, s3.Endpoint)
	}
	return nil
}

func joinWhere(w []string) string {
	if len(w) == 0 {
		return "-"
	}
	return strings.Join(w, "+")
}

// humanBytes is a size in KiB/MiB as ls -h prints it.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
