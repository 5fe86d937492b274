package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/release"
)

func newJoinCommand(g *cli.Globals) *cobra.Command {
	var reboot bool
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Provision this node once: disk, firewall, k3s, labels, quorum, manifests",
		Long: `join takes this node from freshly flashed to member of the cluster, one phase
per line with its elapsed time. It is idempotent: run it again and it changes
nothing; interrupt it anywhere and the next run picks up where it stopped.
It exits 0 only when the node has joined; exit code 3 means "reboot, then run
join again" (the memory cgroup was just enabled on the kernel command line).
join never reboots by itself: --reboot reboots once for that change (the
daemon follows preflight.reboot instead), and nodeagent.service resumes the
join after boot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			rep := &agent.TerminalReporter{W: out}
			a, closeAll, err := newAgent(cmd.Context(), g, rep, release.Options{Progress: newProgressBar(out)})
			if err != nil {
				return err
			}
			defer closeAll()
			if reboot {
				a.RebootPolicy = agent.RebootAlways
			}
			start := time.Now()
			err = a.Join(cmd.Context())
			if errors.Is(err, agent.ErrRebooting) {
				fmt.Fprintln(out, "rebooting this node; nodeagent.service resumes the join after boot")
				return &cli.ExitError{Code: 3}
			}
			if errors.Is(err, agent.ErrRebootRequired) {
				fmt.Fprintln(out, "reboot this node, then run `nodeagent join` again")
				return &cli.ExitError{Code: 3}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "joined in %s\n", time.Since(start).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&reboot, "reboot", false, "reboot once by itself when the kernel command line had to change")
	return cmd
}

// newProgressBar prints download progress about every 10%.
func newProgressBar(w io.Writer) func(done, total int64) {
	var mu sync.Mutex
	last := -1
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if total <= 0 {
			return
		}
		pct := int(done * 100 / total)
		if pct/10 == last/10 && pct != 100 {
			return
		}
		last = pct
		bar := ""
		for i := 0; i < 20; i++ {
			if i < pct/5 {
				bar += "#"
			} else {
				bar += "."
			}
		}
		fmt.Fprintf(w, "  [%s] %3d%% of %.1f MB\n", bar, pct, float64(total)/1e6)
	}
}
