package agent

import (
	"go.uber.org/zap"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/logging"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

// Deps are what an Agent works with; cmd/nodeagent builds the real ones,
// tests point Root at a container or a temp tree.
type Deps struct {
	Log      *zap.Logger
	File     *config.File
	Node     config.Node
	Root     host.Root
	Runner   host.Runner
	Clock    host.Clock
	Reporter Reporter
	// Systemd manages units and tells whether the clock is synchronised.
	Systemd *systemd.Manager
	// Download tunes the k3s download (progress bar, timeouts).
	Download release.Options
	// USBRoot is where sysfs and /dev are read for USB devices; Root when
	// unset. The end-to-end test points it at a fixture tree, the one piece
	// of simulated hardware.
	USBRoot host.Root
	// NewServerWork builds a server's quorum, manifests and restart-turn
	// work for the cluster file in use; nil where none runs.
	NewServerWork func(*config.File, config.Node) ServerWork
	// RebootPolicy: the daemon follows preflight.reboot; the zero value
	// never reboots (`nodeagent join` without --reboot).
	RebootPolicy RebootPolicy
	// Phase marks log entries with the phase in progress; pass the one
	// that also wraps the loggers given to the server work, so that their
	// entries are marked too. New makes one when it is nil.
	Phase *logging.Phase
}

// Agent provisions one node and keeps it in step.
type Agent struct {
	Deps
	log      *zap.Logger
	disks    *disk.Manager
	firewall *firewall.Firewall
	k3s      *k3s.Manager
	server   ServerWork // servers only
	table    []Step
	client   metadata.Interface
	// metrics are the daemon's (nil outside it; their methods take nil).
	metrics *Metrics
	report  *nodeReport  // the daemon's condition and Events on its Node
	hotplug hotplugClock // the first event of a USB change not yet labelled
	// usbUpdates carries reloaded USB settings to the running watcher.
	usbUpdates chan usbSettings
	// configProblem says why the last edit of the cluster file was
	// refused; "" when the running file is the one on disk. The worker's
	// goroutine alone reads and writes it.
	configProblem string
	// backupsWaitLogged: the journal already says the snapshot copies wait
	// for the disk (worker goroutine only).
	backupsWaitLogged bool
	// upgradeHeld says what an agent's staged k3s upgrade waits for (the
	// servers first), "" when none waits: the pass ends in step for the
	// rest, STATUS says this instead, and a full pass comes again soon.
	upgradeHeld string
	// resumeAt is the phase the last failed pass stopped at: its retry
	// starts there (the worker's goroutine alone uses it; every event,
	// resync and reload still runs all phases).
	resumeAt string
}

// New wires the step packages for node d.Node.
func New(d Deps) *Agent {
	if d.USBRoot == (host.Root{}) {
		d.USBRoot = d.Root
	}
	// The node's name never changes for a running agent (a reload that drops
	// it is refused), so the logger is set once; watchers share it.
	if d.Phase == nil {
		d.Phase = &logging.Phase{}
	}
	log := d.Phase.Logger(d.Log).With(zap.String("node", d.Node.Name))
	a := &Agent{Deps: d, log: log, usbUpdates: make(chan usbSettings, 1)}
	a.wire()
	return a
}

// wire (re)builds the steps from the current cluster file and node.
func (a *Agent) wire() {
	d := a.Deps
	// A nil *systemd.Manager must reach the steps as a nil interface.
	var units disk.Units
	var services k3s.ServiceManager
	if d.Systemd != nil {
		units, services = d.Systemd, d.Systemd
	}
	a.disks = disk.NewManager(d.Root, d.Runner, units, d.Clock, a.log)
	a.firewall = firewall.New(d.Root, d.Runner, a.log)
	if a.server != nil {
		_ = a.server.Close()
		a.server = nil
	}
	if d.Node.Role == config.RoleServer && d.NewServerWork != nil {
		a.server = d.NewServerWork(d.File, d.Node)
	}
	inst := release.NewInstaller(d.Root, a.log, d.Clock, d.Download)
	a.k3s = k3s.NewManager(d.Root, a.log, &d.File.Cluster, d.Node, inst, services, restartTurn{a})
	a.k3s.Status = func(text string) {
		if a.Reporter != nil { // set by join and the daemon, which run Ensure
			a.Reporter.Status(text)
		}
	}
	if d.Node.Role == config.RoleAgent {
		a.k3s.Servers = serverVersions{a} // servers first, then agents
	}
	a.table = a.newTable()
}

// Close releases connections.
func (a *Agent) Close() {
	if a.server != nil {
		_ = a.server.Close()
	}
}

func (a *Agent) cluster() *config.Cluster { return &a.File.Cluster }
