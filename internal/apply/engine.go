package apply

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/nodeagent/nodeagent/internal/host"
)

const (
	// FieldManager owns every field nodeagent applies.
	FieldManager = "nodeagent"
	// LabelManagedBy / ManagedBy mark every object nodeagent applies; prune
	// deletes nothing without them.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "nodeagent"
)

// Options tune an Engine; the zero value of each field picks the default.
type Options struct {
	// ForceConflicts is the cluster file's apply.forceConflicts.
	ForceConflicts []string
	// Held reports whether etcd quorum still holds, under the context of
	// the Apply in progress. It is called at every step boundary (and at
	// most every HeldInterval within a step); when it returns false the run
	// stops and the rest is reported pending. Nil means always held.
	Held         func(context.Context) bool
	HeldInterval time.Duration
	// CRDTimeout bounds the wait for applied CRDs to be Established.
	CRDTimeout time.Duration
	// KindTimeout bounds the wait for a kind that is not served yet (its
	// CRD comes with a chart), for a chart's install and for its webhooks
	// to answer, before the objects waiting are reported pending.
	KindTimeout time.Duration
	// Charts names, by API group, the k3s HelmChart whose install brings
	// the group's kinds and the webhooks that admit them
	// (manifests.ChartGroups). Objects of such a group are applied once
	// the chart's install Job succeeded, and a webhook of the chart that
	// cannot be called yet is waited for, not taken for a failure
	// (chartwait.go).
	Charts map[string]types.NamespacedName
	// PollInterval is how often CRD status and discovery are re-read;
	// the wait for kinds, charts and webhooks starts at it and backs off
	// to eight times it.
	PollInterval time.Duration
	// Workers is how many objects of one step are applied concurrently.
	Workers int
	// Inventory is where the list of applied objects is kept.
	Inventory types.NamespacedName
	// Server is the name of the server that applies (the node name); its
	// overlay record is kept under it. Servers names every server of the
	// cluster file: an overlay object is pruned only once each of them
	// recorded an overlay without it. Empty means Server alone.
	Server  string
	Servers []string
	// Clock defaults to the real clock.
	Clock host.Clock
}

func (o Options) withDefaults() Options {
	if o.HeldInterval == 0 {
		o.HeldInterval = time.Second
	}
	if o.CRDTimeout == 0 {
		o.CRDTimeout = time.Minute
	}
	if o.KindTimeout == 0 {
		// A chart's CRDs appear once the helm controller pulled and ran
		// it, which takes a minute or two on a Pi.
		o.KindTimeout = 3 * time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.Inventory.Name == "" {
		o.Inventory = types.NamespacedName{Namespace: "kube-system", Name: "nodeagent-inventory"}
	}
	if o.Clock == nil {
		o.Clock = host.RealClock{}
	}
	return o
}

// Engine applies object sets. Keep one per process: its discovery cache
// makes a no-op re-apply cost only one list per kind.
type Engine struct {
	dyn    dynamic.Interface
	cs     kubernetes.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	opts   Options
	force  forceSet
	log    *zap.Logger
	// retry holds the objects whose last apply failed, was pending or in
	// conflict: they are applied again even if they look up to date.
	retry retrySet
	// perObject applies every object even when it is up to date, as
	// before upToDate existed; the benchmark uses it as its baseline.
	perObject bool
}

// New returns an Engine for the cluster at cfg (build it with
// kube.RestConfig, which raises the client rate limits).
func New(cfg *rest.Config, opts Options, log *zap.Logger) (*Engine, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating kubernetes client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating discovery client: %w", err)
	}
	opts = opts.withDefaults()
	return &Engine{
		dyn:    dyn,
		cs:     cs,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		opts:   opts,
		force:  newForceSet(opts.ForceConflicts),
		log:    log.With(zap.String("component", "apply")),
	}, nil
}

// Set is what one server applies: the objects nodeagent renders and the
// overlay read from this server's apply.overlayDir (see LoadOverlay).
type Set struct {
	Builtin []*unstructured.Unstructured
	Overlay []*unstructured.Unstructured
}

// Objects is the set in apply order (see Merge).
func (s Set) Objects() []*unstructured.Unstructured { return Merge(s.Builtin, s.Overlay) }

// Apply applies set, records this server's overlay, prunes what the
// inventory lists and no server wants any more (see overlayrecord.go), and
// records the new inventory. The error is for failures of the run itself
// (bad input, inventory unreadable); per-object problems are in the Report.
func (e *Engine) Apply(ctx context.Context, set Set) (*Report, error) {
	desired, err := prepare(set.Objects())
	if err != nil {
		return nil, err
	}
	overlay := make(map[objKey]bool, len(set.Overlay))
	for _, u := range set.Overlay {
		overlay[keyOf(u)] = true
	}
	r := e.newRun(ctx, desired)
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		e.prefetch(ctx, desired, r.known)
	}()
	inv, err := e.loadInventory(ctx)
	<-listed
	if err != nil {
		return nil, err
	}
	inv.recordOverlay(e.opts.Server, overlay, e.opts.Servers)
	first, rest := splitFirst(desired)
	r.step(ctx, "namespaces and CRDs", first)
	r.waitCRDs(ctx, first)
	r.step(ctx, "objects", rest)
	r.applyDeferred(ctx)
	report := &Report{Results: r.results, Waited: r.waited}
	if r.guard.stopped() {
		report.Stopped = true
		e.log.Warn("apply stopped: quorum lost", zap.String("summary", report.Summary()))
	} else if len(desired) == 0 && len(inv.entries) > 0 {
		// An empty set is far more likely a rendering bug than a wish to
		// delete everything nodeagent ever created.
		e.log.Warn("empty object set, not pruning", zap.Int("inventory", len(inv.entries)))
	} else {
		report.Pruned = e.prune(ctx, inv, desired)
	}
	if err := e.saveInventory(ctx, inv.update(report, overlay)); err != nil {
		return report, err
	}
	e.log.Info("apply finished", zap.String("summary", report.Summary()))
	return report, nil
}
