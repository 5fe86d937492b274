package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

// defaultCLI is where the package installs the full nodeagent binary, which
// runs the server work (quorum, manifests, restart turn).
const defaultCLI = "/usr/bin/nodeagent"

func newRunCommand(g *cli.Globals) *cobra.Command {
	var cliPath string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "The daemon: join if needed, then keep the node in step on events",
		Long:  "The resident daemon behind `nodeagent run`, which hands over to it: see `nodeagent run --help`.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			n := systemd.NewNotifier(g.Log)
			a, closeAll, err := newAgentWhenConfigured(ctx, g, n, childServerWork(g, cliPath))
			if err != nil || a == nil {
				return err
			}
			defer closeAll()
			a.RebootPolicy = agent.RebootBySetting // preflight.reboot decides
			wd, err := systemd.WatchdogInterval()
			if err != nil {
				g.Log.Warn("reading the watchdog interval", zap.Error(err))
			}
			path, err := g.ConfigFilePath()
			if err != nil {
				return err
			}
			go logRuntimeStats(ctx, g.Log)
			return a.Run(ctx, n, agent.RunOptions{ConfigPath: path, Watchdog: wd})
		},
	}
	cmd.Flags().StringVar(&cliPath, "cli", defaultCLI, "the full nodeagent binary, which runs the quorum and manifests phases")
	_ = cmd.Flags().MarkHidden("cli")
	return cmd
}

// childServerWork runs the server work as children of the daemon, with
// this daemon's view of the cluster file and node.
func childServerWork(g *cli.Globals, cliPath string) cli.ServerWorkFactory {
	return func(_ *config.File, n config.Node) agent.ServerWork {
		args, err := g.ChildArgs(n)
		if err != nil {
			// It was readable a moment ago; the child will say what is wrong.
			g.Log.Warn("finding the cluster file for the server work", zap.Error(err))
		}
		return &child.Command{CLI: cliPath, Args: args, Env: systemd.ChildEnv(os.Environ()), Log: g.Log}
	}
}

// newAgentWhenConfigured builds the agent, waiting while there is no cluster
// file, it is invalid or it does not name this machine: a freshly installed
// package is running and says what it needs (systemctl status), instead of
// restarting every few seconds. It wakes on edits of the cluster file's
// directory and on address changes (a node's address may come late from
// DHCP). A nil agent without error means ctx ended.
func newAgentWhenConfigured(ctx context.Context, g *cli.Globals, n *systemd.Notifier, serverWork cli.ServerWorkFactory) (*agent.Agent, func(), error) {
	// The watches end with the wait, not with the daemon.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var watch <-chan fsnotify.Event
	addrs, err := identity.WatchAddrs(wctx)
	if err != nil {
		g.Log.Warn("cannot watch address changes, rechecking every few seconds", zap.Error(err))
	}
	start, last := time.Now(), ""
	tick := time.NewTicker(15 * time.Second) // the directory may not exist yet; the watchdog wants pings
	defer tick.Stop()
	for {
		a, closeAll, err := g.NewAgent(ctx, agent.SystemdReporter{N: n}, release.Options{}, serverWork)
		if err == nil || !isConfigProblem(err) {
			return a, closeAll, err
		}
		if status := configWaitStatus(err, time.Since(start)); status != last {
			g.Log.Error("waiting for a usable cluster file", zap.String("status", status), zap.Error(err))
			_ = n.Ready()
			_ = n.Status(status)
			last = status
		}
		if watch == nil {
			watch = watchConfigDir(wctx, g)
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-watch:
		case <-addrs:
		case <-tick.C:
		}
		_ = n.Watchdog()
	}
}

// configWaitStatus is the daemon's STATUS while it waits: short, with the
// fix. A hostname whose node's address is not (yet) local gets
// identity.AddressWait to appear before it is called a mismatch.
func configWaitStatus(err error, waited time.Duration) string {
	var mm *identity.MismatchError
	if errors.As(err, &mm) && waited < identity.AddressWait {
		return "waiting for " + mm.Address().String() + " (node " + mm.Node.Name + ", by hostname) on a local interface"
	}
	if errors.As(err, &mm) {
		return "not acting: " + err.Error()
	}
	return "waiting for a usable cluster file: " + err.Error()
}

// logRuntimeStats logs the daemon's goroutines and memory on SIGUSR1
// (systemctl kill -s USR1 --kill-whom=main nodeagent): how to tell a leak
// from a busy moment on a Pi without a debugger.
func logRuntimeStats(ctx context.Context, log *zap.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			log.Info("runtime stats",
				zap.Int("goroutines", runtime.NumGoroutine()),
				zap.Uint64("heapInuseBytes", m.HeapInuse),
				zap.Uint64("heapReleasedBytes", m.HeapReleased),
				zap.Uint64("stackInuseBytes", m.StackInuse),
				zap.Uint32("gcCycles", m.NumGC))
		}
	}
}

func isConfigProblem(err error) bool {
	var cfgErr *config.Errors
	var untrusted *host.UntrustedError // fixed by a chmod or chown, which the watch sees
	return errors.As(err, &cfgErr) || errors.As(err, &untrusted) ||
		errors.Is(err, identity.ErrNotANode) || errors.Is(err, identity.ErrNoClusterFile)
}

// watchConfigDir reports changes in the cluster file's directory (editors
// replace files by rename); nil when it cannot be watched.
func watchConfigDir(ctx context.Context, g *cli.Globals) <-chan fsnotify.Event {
	path, _ := g.ConfigFilePath()
	if path == "" {
		path = g.HostRoot().Path(config.DefaultPath)
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
