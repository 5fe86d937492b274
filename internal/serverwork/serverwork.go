package serverwork

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/quorum"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// leaseWait bounds how long a server waits for the apply lease: the holder
// applies and releases within seconds when all is well, and whoever comes
// after it finds everything unchanged.
const leaseWait = 2 * time.Minute

// Config is what the server work of one server work with.
type Config struct {
	Log     *zap.Logger
	Cluster *config.Cluster
	// File is the file Cluster was read from, for errors at its lines (a
	// chart file that is not the chart it names); nil: errors without.
	File  *config.File
	Node  config.Node
	Root  host.Root
	Clock host.Clock
	// EtcdEndpoint and EtcdTLSDir override k3s's defaults (tests).
	EtcdEndpoint, EtcdTLSDir string
	// EtcdClientPort is the port of another server's etcd client URL
	// ("2379"); StaleObserveWait and StaleGoneWait bound the waits for
	// that etcd to answer and for a removed member to go (tests).
	EtcdClientPort                  string
	StaleObserveWait, StaleGoneWait time.Duration
}

// Work runs the quorum gate and the manifests of one server. It keeps
// the etcd connection and the apply engine (whose discovery cache makes a
// no-op re-apply cheap) between calls; Close releases them.
type Work struct {
	cfg    Config
	log    *zap.Logger
	quorum *quorum.Observer
	engine *apply.Engine
	client kubernetes.Interface
	// restartSeen is the restart Lease as this process last saw it.
	restartSeen leaseSeen
}

// New prepares the server work; it connects to nothing until used.
func New(cfg Config) *Work {
	tlsDir := cfg.EtcdTLSDir
	if tlsDir == "" {
		tlsDir = quorum.DefaultTLSDir
	}
	log := cfg.Log.With(zap.String("node", cfg.Node.Name))
	return &Work{
		cfg:    cfg,
		log:    log,
		quorum: quorum.NewObserver(quorum.Config{Endpoint: cfg.EtcdEndpoint, TLSDir: cfg.Root.Path(tlsDir)}, log),
	}
}

// Close releases the etcd connection.
func (p *Work) Close() error { return p.quorum.Close() }

// minHealthyVoters is a majority of the servers the cluster file names: a
// lone first server (1/1) is no quorum for the cluster's manifests.
func (p *Work) minHealthyVoters() int { return len(p.cfg.Cluster.Servers())/2 + 1 }

// gate opens once etcd has quorum among the servers the cluster file names.
func (p *Work) gate() *quorum.Gate {
	return quorum.NewGate(p.quorum, quorum.GateConfig{Clock: p.cfg.Clock, MinHealthyVoters: p.minHealthyVoters()}, p.log)
}

// WaitQuorum holds the manifests back until etcd has quorum, telling status
// what it waits for.
func (p *Work) WaitQuorum(ctx context.Context, status func(string)) error {
	deadline := p.cfg.Clock.Now().Add(p.cfg.Cluster.Apply.QuorumTimeout.Duration)
	return p.gate().Wait(ctx, deadline, func(s quorum.Status) {
		status("waiting for quorum: " + s.Summary())
	})
}

// ApplyManifests renders the cluster's manifests and the overlay and applies
// them, once, as the holder of the apply lease, stopping at a step boundary
// if quorum is lost. Objects whose kinds a chart has not installed yet stay
// pending; the daemon's next pass applies them.
func (p *Work) ApplyManifests(ctx context.Context, status func(string)) error {
	in, _, err := chartInputs(p.cfg.Root, p.clusterFile())
	if err != nil {
		return fmt.Errorf("chart files: %w", err)
	}
	rendered, err := manifests.RenderWith(p.cfg.Cluster, in)
	if err != nil {
		return fmt.Errorf("rendering manifests: %w", err)
	}
	overlay, err := apply.LoadOverlay(p.cfg.Root, p.cfg.Cluster.Apply.OverlayDir)
	if err != nil {
		return err
	}
	toApply := apply.Set{Builtin: rendered.Objects(), Overlay: overlay}
	objs := toApply.Objects()
	engine, err := p.applyEngine()
	if err != nil {
		return err
	}
	client, err := p.clientset()
	if err != nil {
		return err
	}
	leader := apply.NewLeader(client, p.cfg.Node.Name, apply.LeaderConfig{}, p.log)
	rec := child.ApplyRecord{By: p.cfg.Node.Name, Objects: len(objs)}
	status("waiting for the apply lease")
	sealedHeld := false
	err = leader.TryRun(ctx, leaseWait, func(ctx context.Context) error {
		set, notes, held, err := p.gateSealedSecrets(ctx, client, toApply, sealedMarkerWait, status)
		if err != nil {
			return err
		}
		rec.Held, sealedHeld = notes, held
		note, err := p.waitForPlacementNodes(ctx, client, rendered, status)
		if err != nil {
			return err
		}
		if note != "" {
			rec.Placement = append(rec.Placement, note)
		}
		status(fmt.Sprintf("applying %d objects", len(objs)))
		report, err := engine.Apply(ctx, set)
		if err != nil {
			return err
		}
		p.log.Info("manifests applied", zap.String("summary", report.Summary()), zap.Bool("stopped", report.Stopped),
			zap.Duration("waited", report.Waited))
		recordReport(&rec, report)
		if report.Stopped {
			return fmt.Errorf("apply stopped: %w", quorum.ErrNoQuorum)
		}
		// After the apply, so the namespaces exist; a pod waiting for its
		// Secret starts once it is there.
		var gerr error
		rec.Generated, gerr = p.generateSecrets(ctx, client, objs)
		return errors.Join(report.Err(), gerr)
	})
	var held *apply.HeldError
	if errors.As(err, &held) {
		p.log.Info("another server holds the apply lease: it applies", zap.Error(err))
		rec.By, rec.HeldBy, err = held.Holder, held.Holder, nil
	}
	p.record(rec, err)
	if err == nil && sealedHeld {
		return fmt.Errorf("%s: %w", rec.Held[0], ErrSealedSecretsHeld)
	}
	return err
}

// clusterFile is the cluster file the work was configured with.
func (p *Work) clusterFile() *config.File {
	if p.cfg.File != nil {
		return p.cfg.File
	}
	return &config.File{Cluster: *p.cfg.Cluster, Source: "cluster file"}
}

// generateSecrets creates the missing generated Secrets the objects need.
func (p *Work) generateSecrets(ctx context.Context, client kubernetes.Interface, objs []*unstructured.Unstructured) ([]string, error) {
	needs, err := manifests.RequiredSecrets(p.cfg.Cluster, objs)
	if err != nil {
		return nil, err
	}
	return GenerateSecrets(ctx, client, needs, p.log)
}

// recordReport tallies an apply report into the record status shows.
func recordReport(rec *child.ApplyRecord, report *apply.Report) {
	rec.Counts = map[string]int{}
	for o, n := range report.Counts() {
		rec.Counts[string(o)] = n
	}
	rec.Stopped = report.Stopped
	for _, r := range append(append([]apply.Result{}, report.Results...), report.Pruned...) {
		if r.Outcome == apply.Failed || r.Outcome == apply.Conflict {
			rec.Failures = append(rec.Failures, r.Key+": "+string(r.Outcome)+": "+r.Reason)
		}
	}
}

// record keeps the outcome for `nodeagent status`; failing to write it
// costs the status line, not the apply.
func (p *Work) record(rec child.ApplyRecord, err error) {
	rec.At = p.cfg.Clock.Now().UTC()
	if err != nil {
		rec.Error = err.Error()
	}
	if serr := child.SaveApplyRecord(p.cfg.Root, rec); serr != nil {
		p.log.Warn("cannot record the manifests apply", zap.Error(serr))
	}
}

// clientset connects, once, with the kubeconfig k3s writes.
func (p *Work) clientset() (kubernetes.Interface, error) {
	if p.client != nil {
		return p.client, nil
	}
	cfg, err := kube.RestConfig(p.cfg.Root.Path(kube.K3sKubeconfig))
	if err != nil {
		return nil, err
	}
	if p.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("creating kubernetes client: %w", err)
	}
	return p.client, nil
}

// applyEngine builds the apply engine once; it asks the gate between steps.
func (p *Work) applyEngine() (*apply.Engine, error) {
	if p.engine != nil {
		return p.engine, nil
	}
	cfg, err := kube.RestConfig(p.cfg.Root.Path(kube.K3sKubeconfig))
	if err != nil {
		return nil, err
	}
	e, err := apply.New(cfg, apply.Options{
		ForceConflicts: p.cfg.Cluster.Apply.ForceConflicts,
		Held:           p.gate().Held,
		Clock:          p.cfg.Clock,
		Server:         p.cfg.Node.Name,
		Servers:        serverNames(p.cfg.Cluster),
		Charts:         manifests.ChartGroups(p.cfg.Cluster),
	}, p.log)
	if err != nil {
		return nil, err
	}
	p.engine = e
	return e, nil
}

// serverNames names the servers of the cluster file.
func serverNames(c *config.Cluster) []string {
	var names []string
	for _, n := range c.Servers() {
		names = append(names, n.Name)
	}
	return names
}

// EtcdStatus is the quorum view of a server (`nodeagent status`).
type EtcdStatus struct {
	Quorum  bool            `json:"quorum"`
	Summary string          `json:"summary"`
	Leader  string          `json:"leader"`
	Members []quorum.Member `json:"members"`
}

// Etcd reads the members' health, with a short timeout.
func (p *Work) Etcd(ctx context.Context) (*EtcdStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := p.quorum.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return &EtcdStatus{Quorum: s.Quorum(), Summary: s.Summary(), Leader: s.LeaderName(), Members: s.Members}, nil
}
