package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// checkMetrics scrapes pi4-2's daemon on its own loopback, where the
// shipped metrics.listen puts it, after the USB hotplug step: the text
// parses, every step has run, etcd has quorum, and the plug and unplug are
// in the hotplug-to-label histogram.
func (sc *scenario) checkMetrics(t *testing.T) {
	pi42 := sc.h.nodes["pi4-2"]
	var fams map[string]*dto.MetricFamily
	poll(t, "pi4-2's metrics show the hotplugs", time.Minute, pollEvery, func() error {
		var err error
		if fams, err = scrapeMetrics(pi42); err != nil {
			return err
		}
		if n := histogramCount(fams, "nodeagent_usb_hotplug_to_label_seconds"); n < 2 {
			return fmt.Errorf("hotplug-to-label observations %d, want the plug and the unplug", n)
		}
		return nil
	})
	if v := gauge(fams, "nodeagent_etcd_quorum"); v != 1 {
		t.Errorf("nodeagent_etcd_quorum = %v, want 1", v)
	}
	// The gate opens at 2 of 3: the last quorum phase saw 2 or 3.
	if v := gauge(fams, "nodeagent_etcd_voters_healthy"); v < 2 || v > 3 {
		t.Errorf("nodeagent_etcd_voters_healthy = %v, want 2 or 3", v)
	}
	ok := map[string]bool{}
	if fam := fams["nodeagent_step_runs_total"]; fam != nil {
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == "ok" && m.GetCounter().GetValue() > 0 {
				ok[labels["step"]] = true
			}
		}
	}
	for _, step := range []string{"preflight", "firewall", "k3s", "register", "usb", "labels", "quorum", "manifests"} {
		if !ok[step] {
			t.Errorf("nodeagent_step_runs_total has no ok run of step %s", step)
		}
	}
	sc.sum.add("metrics", "ok", fmt.Sprintf("pi4-2: %d families parsed, hotplug-to-label observed %d times",
		len(fams), histogramCount(fams, "nodeagent_usb_hotplug_to_label_seconds")))
}

// scrapeMetrics GETs the daemon's metrics on the node's 127.0.0.1:9469 (the
// rootfs has no curl: bash's /dev/tcp) and parses them.
func scrapeMetrics(n *node) (map[string]*dto.MetricFamily, error) {
	script := `exec 3<>/dev/tcp/127.0.0.1/9469; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; timeout 10 cat <&3`
	out, err := n.exec("timeout", "20", "bash", "-c", script)
	if err != nil {
		return nil, err
	}
	_, body, found := strings.Cut(out, "\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.0 200") || !found {
		return nil, fmt.Errorf("GET /metrics: %.200q", out)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	return parser.TextToMetricFamilies(strings.NewReader(body))
}

func histogramCount(fams map[string]*dto.MetricFamily, name string) uint64 {
	var n uint64
	for _, m := range fams[name].GetMetric() {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func gauge(fams map[string]*dto.MetricFamily, name string) float64 {
	for _, m := range fams[name].GetMetric() {
		return m.GetGauge().GetValue()
	}
	return -1
}
