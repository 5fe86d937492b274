package main

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

func newRunCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "The daemon: join if needed, then keep the node in step on events",
		Long: `run is what nodeagent.service starts (Type=notify). On a node that has not
joined it does the work of join first; then it reconciles on USB hotplug, disks
appearing or vanishing, edits of the cluster file and the overlay directory,
and address changes, plus a slow resync. It reports READY, STATUS and WATCHDOG
to systemd and stops cleanly on SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := systemd.NewNotifier(g.log)
			a, closeAll, err := g.newAgent(cmd.Context(), agent.SystemdReporter{N: n}, k3s.Options{})
			if err != nil {
				return err
			}
			defer closeAll()
			wd, err := systemd.WatchdogInterval()
			if err != nil {
				g.log.Warn("reading the watchdog interval", zap.Error(err))
			}
			path, err := g.configFilePath()
			if err != nil {
				return err
			}
			return a.Run(cmd.Context(), n, agent.RunOptions{ConfigPath: path, Watchdog: wd})
		},
	}
}
