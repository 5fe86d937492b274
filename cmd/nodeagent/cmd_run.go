package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/identity"
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
to systemd and stops cleanly on SIGTERM. Until the cluster file is valid and
names this machine, it waits for it to change instead of exiting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			n := systemd.NewNotifier(g.log)
			a, closeAll, err := g.newAgentWhenConfigured(ctx, n)
			if err != nil || a == nil {
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
			return a.Run(ctx, n, agent.RunOptions{ConfigPath: path, Watchdog: wd})
		},
	}
}

// newAgentWhenConfigured builds the agent, waiting while the cluster file is
// invalid or does not name this machine: a freshly installed package is
// running and says what it needs (systemctl status), instead of restarting
// every few seconds. A nil agent without error means ctx ended.
func (g *globals) newAgentWhenConfigured(ctx context.Context, n *systemd.Notifier) (*agent.Agent, func(), error) {
	var watch <-chan fsnotify.Event
	for {
		a, closeAll, err := g.newAgent(ctx, agent.SystemdReporter{N: n}, k3s.Options{})
		if err == nil || !isConfigProblem(err) {
			return a, closeAll, err
		}
		g.log.Error("waiting for a usable cluster file", zap.Error(err))
		_ = n.Ready()
		_ = n.Status("waiting for a usable cluster file: " + err.Error())
		if watch == nil {
			watch = g.watchConfigDir(ctx)
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-watch:
		case <-time.After(time.Minute): // the directory may not exist yet
		}
		_ = n.Watchdog()
	}
}

func isConfigProblem(err error) bool {
	var cfgErr *config.Errors
	return errors.As(err, &cfgErr) || errors.Is(err, identity.ErrNotANode)
}

// watchConfigDir reports changes in the cluster file's directory (editors
// replace files by rename); nil when it cannot be watched.
func (g *globals) watchConfigDir(ctx context.Context) <-chan fsnotify.Event {
	path, _ := g.configFilePath()
	if path == "" {
		path = g.hostRoot().Path(config.DefaultPath)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil
	}
	go func() {
		<-ctx.Done()
		w.Close()
	}()
	return w.Events
}
