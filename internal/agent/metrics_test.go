package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nodeagent/nodeagent/internal/quorum"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// metricsServerWork waits for quorum by reporting observations the way
// serverwork's WaitQuorum does (quorum's own Summary), and applies by
// writing the record the real apply writes.
type metricsServerWork struct {
	fakeServerWork
	a           *Agent
	observed    [][]quorum.Member
	quorumErr   error
	record      *child.ApplyRecord // nil: no apply this time
	manifestErr error
}

func (w *metricsServerWork) WaitQuorum(_ context.Context, status func(string)) error {
	for _, members := range w.observed {
		st := quorum.Status{Members: members, Verdict: quorum.Evaluate(members)}
		status("waiting for quorum: " + st.Summary())
	}
	return w.quorumErr
}

func (w *metricsServerWork) ApplyManifests(context.Context, func(string)) error {
	if w.record != nil {
		rec := *w.record
		rec.At = w.a.Clock.Now().UTC()
		if err := child.SaveApplyRecord(w.a.Root, rec); err != nil {
			return err
		}
	}
	return w.manifestErr
}

func voters(healthy, total int) []quorum.Member {
	var ms []quorum.Member
	for i := range total {
		ms = append(ms, quorum.Member{ID: uint64(i + 1), Name: "pi" + string(rune('a'+i)), Healthy: i < healthy, Reason: "unreachable"})
	}
	return ms
}

// scrape reads the handler's output with Prometheus's own text parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, rec.Body)
	}
	return fams
}

// values maps each series of family name, by its labels as
// "name=value,…" (in the scrape's order, by name), to its value (a
// histogram's sample count).
func values(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	fam, ok := fams[name]
	if !ok {
		return out
	}
	for _, m := range fam.GetMetric() {
		key := ""
		for i, l := range m.GetLabel() {
			if i > 0 {
				key += ","
			}
			key += l.GetName() + "=" + l.GetValue()
		}
		switch {
		case m.Counter != nil:
			out[key] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[key] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[key] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// Two passes, the first failing at labels, the second running the real
// quorum and manifests steps over a server work that reports like the
// child: the scrape counts each phase by result, times it, stamps its
// last success, and carries the etcd view and the apply's objects.
func TestMetricsAfterAPassOfSteps(t *testing.T) {
	a := testAgent(t, "pi4-1", &recordingReporter{})
	sw := &metricsServerWork{a: a, observed: [][]quorum.Member{voters(1, 3), voters(2, 3)},
		record:      &child.ApplyRecord{By: "pi4-1", Objects: 46, Counts: map[string]int{"created": 2, "configured": 3, "unchanged": 40, "conflict": 1}},
		manifestErr: errors.New("conflict ConfigMap/default/x: owned by kubectl")}
	a.server = sw
	a.instrument(NewMetrics())
	start := time.Now().Unix()
	var ran []string
	a.table = []Step{fakeStep{name: StepPreflight, applied: &ran}, fakeStep{name: StepLabels, err: errors.New("boom"), applied: &ran}}
	if err := a.runSteps(context.Background()); err == nil {
		t.Fatal("first pass: want the labels failure")
	}
	a.table = []Step{fakeStep{name: StepPreflight, applied: &ran}, fakeStep{name: StepLabels, applied: &ran}, quorumStep{a}, manifestsStep{a}}
	if err := a.runSteps(context.Background()); err == nil {
		t.Fatal("second pass: want the manifests conflict")
	}

	fams := scrape(t, a.metrics)
	checks := []struct {
		name string
		want map[string]float64
	}{
		{"nodeagent_step_runs_total", map[string]float64{"result=ok,step=preflight": 2, "result=failed,step=labels": 1, "result=ok,step=labels": 1, "result=ok,step=quorum": 1, "result=failed,step=manifests": 1}},
		{"nodeagent_step_duration_seconds", map[string]float64{"step=preflight": 2, "step=labels": 2, "step=quorum": 1, "step=manifests": 1}},
		{"nodeagent_etcd_voters", map[string]float64{"": 3}},
		{"nodeagent_etcd_voters_healthy", map[string]float64{"": 2}},
		{"nodeagent_etcd_quorum", map[string]float64{"": 1}},
		{"nodeagent_manifest_objects_total", map[string]float64{"result=created": 2, "result=updated": 3, "result=unchanged": 40, "result=failed": 1}},
		{"nodeagent_usb_hotplug_to_label_seconds", map[string]float64{"": 0}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, values(fams, c.name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	success := values(fams, "nodeagent_step_last_success_timestamp_seconds")
	for _, step := range []string{"preflight", "labels", "quorum"} {
		if got := success["step="+step]; got < float64(start) || got > float64(time.Now().Unix()) {
			t.Errorf("last success of %s = %v, want within the test (from %d)", step, got, start)
		}
	}
	if _, ok := success["step=manifests"]; ok {
		t.Errorf("manifests never succeeded, yet has a last success: %v", success)
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process_resident_memory_bytes: the process collector is missing")
	}

	a.metrics.ObserveHotplugToLabel(700 * time.Millisecond)
	if got := values(scrape(t, a.metrics), "nodeagent_usb_hotplug_to_label_seconds"); got[""] != 1 {
		t.Errorf("hotplug-to-label observations = %v, want 1", got)
	}
}

// A quorum gate that times out lowers the gauge; a stale record or one of
// another server's apply counts no objects; a cancelled phase is no failure.
func TestMetricsOfAnUnsuccessfulPass(t *testing.T) {
	a := testAgent(t, "pi4-1", &recordingReporter{})
	if err := child.SaveApplyRecord(a.Root, child.ApplyRecord{At: time.Now().Add(-time.Hour), Counts: map[string]int{"created": 9}}); err != nil {
		t.Fatal(err)
	}
	sw := &metricsServerWork{a: a, observed: [][]quorum.Member{voters(1, 3), {}}, quorumErr: errors.New("etcd quorum not held")}
	a.server = sw
	a.instrument(NewMetrics())
	a.table = []Step{quorumStep{a}}
	_ = a.runSteps(context.Background())
	a.table = []Step{manifestsStep{a}}
	_ = a.runSteps(context.Background()) // the record is an hour old
	sw.record = &child.ApplyRecord{By: "pi4-2", HeldBy: "pi4-2"}
	_ = a.runSteps(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.table = []Step{fakeStep{name: StepLabels, err: ctx.Err(), applied: new([]string)}}
	_ = a.runSteps(context.Background())

	fams := scrape(t, a.metrics)
	want := map[string]map[string]float64{
		"nodeagent_step_runs_total":        {"result=failed,step=quorum": 1, "result=ok,step=manifests": 2, "result=canceled,step=labels": 1},
		"nodeagent_etcd_voters_healthy":    {"": 1},
		"nodeagent_etcd_quorum":            {"": 0},
		"nodeagent_manifest_objects_total": {},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, values(fams, name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// An agent runs no quorum phase: no etcd gauges, rather than a false 0.
func TestNoEtcdMetricsBeforeAnObservation(t *testing.T) {
	fams := scrape(t, NewMetrics())
	for _, name := range []string{"nodeagent_etcd_voters", "nodeagent_etcd_voters_healthy", "nodeagent_etcd_quorum"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s is exposed before any quorum phase", name)
		}
	}
}

// The endpoint answers on its address and lets go of it when the daemon's
// context ends; off serves nothing.
func TestServeMetricsStopsWithTheDaemon(t *testing.T) {
	a := testAgent(t, "pi4-1", &recordingReporter{})
	a.instrument(NewMetrics())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	addr, err := serveMetrics(ctx, &wg, "127.0.0.1:0", a.metrics, a.log)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr.String() + "/metrics"
	body, err := httpGet(url)
	if err != nil || !strings.Contains(body, "nodeagent_usb_hotplug_to_label_seconds_count 0") {
		t.Errorf("scrape: %v, want the hotplug histogram in:\n%s", err, body)
	}
	cancel()
	wg.Wait()
	if _, err := httpGet(url); err == nil {
		t.Error("the endpoint still answers after the daemon stopped")
	}
	if addr, err := serveMetrics(context.Background(), &wg, "", a.metrics, a.log); addr != nil || err != nil {
		t.Errorf("metrics off: %v, %v; want nothing served and no error", addr, err)
	}
}

// httpGet reads url's body, failing on a status other than 200.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}
