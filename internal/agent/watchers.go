package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/backups"
	"github.com/nodeagent/nodeagent/internal/config"
)

// startWatchers turns host events into queued work: USB hotplug and disk
// uevents, edits of the cluster file and the overlay directory, and changes
// of the node's addresses; on a server of a cluster with agents it also
// removes the Nodes of agents that left.
//
// What the watchers need is read here, before they start: the worker may
// swap the cluster file (and rewire the steps) while they run.
func (a *Agent) startWatchers(ctx context.Context, wg *sync.WaitGroup, q *queue, opts RunOptions) {
	usbStart := usbSettingsOf(a.cluster())
	overlay := a.Root.Path(a.cluster().Apply.OverlayDir)
	disks := a.disks
	watchers := map[string]func() error{
		"usb":       func() error { return a.watchUSB(ctx, q, usbStart, a.usbUpdates) },
		"files":     func() error { return a.watchFiles(ctx, q, opts.ConfigPath, overlay) },
		"addresses": func() error { return watchAddresses(ctx, q) },
	}
	if len(a.Node.Disks) > 0 {
		// The watch reports block devices of any disk; the worker reads the
		// current disk list when it acts.
		watchers["disk"] = func() error { return disks.Watch(ctx, func() { q.add(workDisks) }) }
	}
	if c := a.cluster(); a.Node.Role == config.RoleServer && len(c.Servers()) > 1 {
		watchers["out-of-cluster"] = func() error { return a.watchOutOfCluster(ctx, q, c) }
	}
	if c := a.cluster(); a.Node.Role == config.RoleServer && a.server != nil && len(c.Nodes) > len(c.Servers()) {
		watchers["left-agents"] = func() error { return a.watchLeftAgents(ctx, c) }
	}
	if _, ok := a.etcdBackups(); ok {
		dir := a.Root.Path(backups.SnapshotDir)
		watchers["etcd-snapshots"] = func() error { return watchEtcdSnapshots(ctx, q, dir) }
	}
	for name, run := range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(); err != nil && ctx.Err() == nil {
				// The resync still covers what this watcher would have seen.
				a.log.Error("watcher stopped; relying on the periodic resync", zap.String("watcher", name), zap.Error(err))
			}
		}()
	}
}

// watchFiles watches the directories of the cluster file and of the overlay
// (editors replace files by rename, so the directory is what to watch).
func (a *Agent) watchFiles(ctx context.Context, q *queue, configPath, overlay string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watched := map[string]bool{}
	for _, dir := range []string{filepath.Dir(configPath), overlay} {
		if configPath == "" && dir == "." {
			continue
		}
		if err := w.Add(dir); err != nil {
			a.log.Info("not watching a directory", zap.String("dir", dir), zap.Error(err))
			continue
		}
		watched[dir] = true
	}
	if len(watched) == 0 {
		<-ctx.Done()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			if ev.Name == configPath || filepath.Dir(ev.Name) == overlay {
				q.add(workConfig)
			}
		case err := <-w.Errors:
			a.log.Warn("file watch error", zap.Error(err))
		}
	}
}

// watchAddresses queues a full reconcile when an address is added or removed
// (DHCP renumbering changes node-ip and the firewall's view of peers).
func watchAddresses(ctx context.Context, q *queue) error {
	updates := make(chan netlink.AddrUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribe(updates, done); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-updates:
			if !ok {
				return nil
			}
			q.add(workFull)
		}
	}
}

// reloadConfig re-reads the cluster file; an invalid edit is reported and
// the running configuration kept, so a typo never tears the node down.
func (a *Agent) reloadConfig() {
	if a.File.Source == config.BuiltinName {
		return
	}
	f, err := config.Load(a.File.Source)
	if err != nil {
		a.log.Error("cluster file invalid: keeping the running configuration", zap.Error(err))
		a.configProblem = "cluster file edit refused, running on the previous one: " + firstLine(err.Error())
		a.Reporter.Status(a.configProblem)
		return
	}
	if n, ok := f.Node(a.Node.Name); ok {
		a.configProblem = ""
		a.File, a.Node = f, n
		a.wire()
		offerUSBSettings(a.usbUpdates, usbSettingsOf(&f.Cluster))
		a.log.Info("cluster file reloaded", zap.String("file", f.Source))
		return
	}
	a.log.Error("cluster file no longer lists this node: keeping the running configuration", zap.String("node", a.Node.Name))
	a.configProblem = "cluster file edit refused, running on the previous one: it no longer lists node " + a.Node.Name
	a.Reporter.Status(a.configProblem)
}

// firstLine is s up to its first newline, marked when there is more.
func firstLine(s string) string {
	if first, rest, ok := strings.Cut(s, "\n"); ok {
		return fmt.Sprintf("%s (and %d more)", first, strings.Count(rest, "\n")+1)
	}
	return s
}

// beatingReporter marks the worker alive on every progress report.
type beatingReporter struct {
	Reporter
	mark func()
}

func (b beatingReporter) PhaseStarted(name string) { b.mark(); b.Reporter.PhaseStarted(name) }

func (b beatingReporter) PhaseDone(name string, d time.Duration, err error) {
	b.mark()
	b.Reporter.PhaseDone(name, d, err)
}

func (b beatingReporter) Status(text string) { b.mark(); b.Reporter.Status(text) }
