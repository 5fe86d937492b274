package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/preflight"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// Metrics are the daemon's Prometheus metrics, in a registry of its own:
// the client library's global one is left alone. Every value is set by work
// the daemon does anyway (a phase ending, a status line, a record the
// manifests child wrote); nothing polls or ticks for them, and the
// process and Go collectors read /proc/self and the runtime only when
// scraped, so an idle daemon pays nothing for them.
type Metrics struct {
	reg         *prometheus.Registry
	steps       *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	hotplug     prometheus.Histogram
	objects     *prometheus.CounterVec
	etcd        sync.Once // the etcd gauges appear with the first observation
	voters      prometheus.Gauge
	healthy     prometheus.Gauge
	quorum      prometheus.Gauge
}

// NewMetrics registers the metrics in a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeagent_step_runs_total",
			Help: "Phases run by the daemon, by step and result (ok, failed, canceled)."}, []string{"step", "result"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nodeagent_step_duration_seconds",
			Help:    "How long each phase took, by step.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800}}, []string{"step"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nodeagent_step_last_success_timestamp_seconds",
			Help: "When each step last ended without error, in unix seconds."}, []string{"step"}),
		hotplug: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nodeagent_usb_hotplug_to_label_seconds",
			Help:    "From a USB hotplug event to the node's labels reflecting it.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30}}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nodeagent_manifest_objects_total",
			Help: "Objects of the manifests applied by this server, by result (created, updated, unchanged, failed, pending, pruned, kept)."},
			[]string{"result"}),
		voters: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nodeagent_etcd_voters",
			Help: "etcd voting members at the last quorum observation."}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nodeagent_etcd_voters_healthy",
			Help: "Healthy etcd voting members at the last quorum observation."}),
		quorum: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nodeagent_etcd_quorum",
			Help: "1 when the quorum gate last opened; 0 when it timed out or etcd lacked quorum at an observation since."}),
	}
	m.reg.MustRegister(m.steps, m.durations, m.lastSuccess, m.hotplug, m.objects,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveHotplugToLabel records how long a USB hotplug took to show in the
// node's labels. A nil Metrics (no daemon) records nothing.
func (m *Metrics) ObserveHotplugToLabel(d time.Duration) {
	if m != nil {
		m.hotplug.Observe(d.Seconds())
	}
}

// observeStep counts a phase that ended at now.
func (m *Metrics) observeStep(step string, d time.Duration, err error, now time.Time) {
	m.steps.WithLabelValues(step, stepResult(err)).Inc()
	m.durations.WithLabelValues(step).Observe(d.Seconds())
	if err == nil {
		m.lastSuccess.WithLabelValues(step).Set(float64(now.Unix()))
	}
}

func stepResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled" // a reload or the daemon stopping, not a failure
	}
	return "failed"
}

// observeEtcd records one observation of the quorum phase. It lowers the
// quorum gauge when etcd itself lacks quorum; only the gate opening raises
// it (the gate also wants a majority of the cluster file's servers).
func (m *Metrics) observeEtcd(healthy, voters, need int) {
	m.etcd.Do(m.registerEtcd)
	m.voters.Set(float64(voters))
	m.healthy.Set(float64(healthy))
	if healthy < need {
		m.quorum.Set(0)
	}
}

func (m *Metrics) registerEtcd() { m.reg.MustRegister(m.voters, m.healthy, m.quorum) }

// observeQuorumGate records how a quorum phase ended: its last observation
// said how many voters were healthy, the outcome says whether it opened.
func (m *Metrics) observeQuorumGate(err error) {
	if errors.Is(err, context.Canceled) {
		return // it ended without a verdict
	}
	m.etcd.Do(m.registerEtcd)
	m.quorum.Set(boolGauge(err == nil))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// applyResults names the apply outcomes (internal/apply/result.go, which
// the daemon does not link) as the metric's results: configured objects
// were updated, a conflict is a failure to apply.
var applyResults = map[string]string{
	"created": "created", "configured": "updated", "unchanged": "unchanged",
	"failed": "failed", "conflict": "failed", "pending": "pending", "pruned": "pruned", "kept": "kept",
}

// observeApply counts the objects of rec, the record of an apply this
// server made.
func (m *Metrics) observeApply(rec *child.ApplyRecord) {
	for outcome, n := range rec.Counts {
		result, ok := applyResults[outcome]
		if !ok {
			result = outcome
		}
		m.objects.WithLabelValues(result).Add(float64(n))
	}
}

// parseQuorumStatus reads the verdict out of the quorum phase's status
// line, "waiting for quorum: 2/3 voters healthy, need 2; …" (serverwork's
// WaitQuorum and quorum.Verdict.String; the daemon links neither, and the
// line is all a child sends). ok is false for any other line and for a
// failed observation (0 voters).
func parseQuorumStatus(text string) (healthy, voters, need int, ok bool) {
	rest, found := strings.CutPrefix(text, "waiting for quorum: ")
	if !found {
		return 0, 0, 0, false
	}
	if _, err := fmt.Sscanf(rest, "%d/%d voters healthy, need %d", &healthy, &voters, &need); err != nil || voters == 0 {
		return 0, 0, 0, false
	}
	return healthy, voters, need, true
}

// metricsReporter passes reports on and turns them into metrics.
type metricsReporter struct {
	Reporter
	m     *Metrics
	root  host.Root
	clock host.Clock
	mu    sync.Mutex
	phase string
	since time.Time
}

// instrument makes the agent's reports feed m.
func (a *Agent) instrument(m *Metrics) {
	a.metrics = m
	a.Reporter = &metricsReporter{Reporter: a.Reporter, m: m, root: a.Root, clock: a.Clock}
}

func (r *metricsReporter) PhaseStarted(name string) {
	r.Reporter.PhaseStarted(name)
	r.mu.Lock()
	r.phase, r.since = name, r.clock.Now()
	r.mu.Unlock()
}

func (r *metricsReporter) PhaseDone(name string, d time.Duration, err error) {
	r.Reporter.PhaseDone(name, d, err)
	r.mu.Lock()
	since := r.since
	r.phase = ""
	r.mu.Unlock()
	r.m.observeStep(name, d, err, r.clock.Now())
	switch name {
	case StepQuorum:
		r.m.observeQuorumGate(err)
	case StepManifests:
		r.observeApplyRecord(since)
	}
}

func (r *metricsReporter) Status(text string) {
	r.Reporter.Status(text)
	r.mu.Lock()
	phase := r.phase
	r.mu.Unlock()
	if phase != StepQuorum {
		return
	}
	if healthy, voters, need, ok := parseQuorumStatus(text); ok {
		r.m.observeEtcd(healthy, voters, need)
	}
}

// observeApplyRecord counts the record the manifests phase just wrote; an
// older one (no apply this time) or one of another server's apply (it
// holds the lease) counts nothing.
func (r *metricsReporter) observeApplyRecord(since time.Time) {
	rec, err := child.LoadApplyRecord(r.root)
	if err != nil || rec == nil || rec.At.Before(since) || rec.HeldBy != "" {
		return
	}
	r.m.observeApply(rec)
}

// metricsShutdownGrace bounds how long a scrape in flight may hold up the
// daemon's stop.
const metricsShutdownGrace = 2 * time.Second

// serveMetrics serves m on addr until ctx ends and returns the address it
// listens on; nil when addr is "" (off). The caller logs an error: a port
// in use costs the metrics, not the daemon.
func serveMetrics(ctx context.Context, wg *sync.WaitGroup, addr string, m *Metrics, log *zap.Logger) (net.Addr, error) {
	if addr == "" {
		log.Info("metrics endpoint off")
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", zap.Error(err))
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), metricsShutdownGrace)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics endpoint listening", zap.String("address", ln.Addr().String()))
	return ln.Addr(), nil
}

// metricsCheck warns, in `nodeagent doctor`, when the endpoint is reachable
// from more than this node: the cluster file asked for it, so it is no
// error, but the firewall does not open the port and the owner may not
// have meant the whole LAN to read it.
func metricsCheck(addr string) preflight.Check {
	c := preflight.Check{Name: "metrics", Severity: preflight.SeverityWarning}
	switch {
	case addr == "":
		c.OK, c.Message = true, "off (metrics.listen)"
	case config.LoopbackOnly(addr):
		c.OK, c.Message = true, addr+" (loopback only)"
	default:
		c.Message = "metrics.listen " + addr + " is not loopback: the metrics are readable from the network once the firewall lets the port in (nodeagent's firewall does not open it)"
		c.Fix = "set metrics.listen to " + config.DefaultMetricsListen + ", or open the port to the scraper only with firewall.extraRules"
	}
	return c
}
