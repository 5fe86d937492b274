package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// newSealedKeysCommand keeps the sealed-secrets controller's keys on the
// backups disk; the daemon of backups.node runs it in every full pass.
func newSealedKeysCommand(g *cli.Globals) *cobra.Command {
	var report string
	cmd := &cobra.Command{
		Use:   "sealed-keys",
		Short: "Save the sealed-secrets keys to the backups disk, and put them back into a rebuilt cluster",
		Long: `sealed-keys runs on the cluster file's backups.node, only while the disk that
holds backups.dir is mounted. If the cluster holds none of the saved keys (a
rebuilt cluster) it creates them (same name, label and type) and restarts the
sealed-secrets controller if it already runs; it records the check in the
ConfigMap kube-system/` + serverwork.SealedKeysMarker + `, which a new
sealed-secrets chart waits for (up to ` + serverwork.SealedKeysWait.String() + `); then it writes each key Secret
(label ` + serverwork.SealedKeyLabel + `) to
<backups.dir>/` + serverwork.SealedKeysDir + `/<name>.yaml (0600, directory 0700),
rewriting a file only when its key changed and never deleting one. No key
material is printed or logged. The daemon of the backups node runs it in
every full pass (at start, after a change, every 10 minutes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServerWork(cmd, g, report, func(ctx context.Context, p *serverwork.Work, status func(string)) error {
				res, err := p.SealedKeys(ctx, status)
				if err != nil {
					return err
				}
				status(sealedKeysSummary(res))
				return nil
			})
		},
	}
	addReportFlag(cmd, &report)
	return cmd
}

// sealedKeysSummary names what was done, by Secret name only.
func sealedKeysSummary(r serverwork.SealedKeysResult) string {
	parts := []string{fmt.Sprintf("%d keys saved (%d unchanged)", len(r.Saved.Written), len(r.Saved.Unchanged))}
	if n := len(r.PutBack.Created); n > 0 {
		parts = append(parts, fmt.Sprintf("%d put back (%s)", n, strings.Join(r.PutBack.Created, ", ")))
	}
	if r.PutBack.Restarted {
		parts = append(parts, "controller restarted")
	}
	if len(r.PutBack.Missing) > 0 {
		parts = append(parts, "saved but not in the cluster, not put back: "+strings.Join(r.PutBack.Missing, ", "))
	}
	return strings.Join(parts, "; ")
}

// writeSealedKeys is the status line of the backups node's last keys check.
func writeSealedKeys(b *strings.Builder, r *child.SealedKeysRecord) {
	if r == nil {
		return
	}
	at := r.At.Local().Format(time.DateTime)
	if r.Error != "" {
		fmt.Fprintf(b, "sealed-secrets keys %s: NOT KEPT: %s\n", at, r.Error)
		return
	}
	fmt.Fprintf(b, "sealed-secrets keys %s: %d in the cluster, saved in %s", at, r.InCluster, r.Dir)
	if len(r.Written) > 0 {
		fmt.Fprintf(b, " (%d written)", len(r.Written))
	}
	b.WriteString("\n")
	if len(r.PutBack) > 0 {
		fmt.Fprintf(b, "          - put back: %s", strings.Join(r.PutBack, ", "))
		if r.Restarted {
			b.WriteString("; controller restarted")
		}
		b.WriteString("\n")
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(b, "          - saved, not in the cluster, not put back: %s\n", strings.Join(r.Missing, ", "))
	}
}
