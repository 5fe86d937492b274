package firewall

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// BenchmarkNoopApply measures a run on a node whose policy is already in
// place: the target is one ufw read, zero writes. The baseline is one bare
// `ufw status` in the same namespace, so "x-ufw-status" is what the rest of
// the run (file reads, parse, diff) costs on top of ufw's own start-up.
func BenchmarkNoopApply(b *testing.B) {
	requireIntegration(b)
	ctx := context.Background()
	root, ufw := ufwHost(b, "-bench")
	fw := nsFirewall(b, root, ufw, zap.NewNop())
	c := labCluster(b)
	node, _ := c.Node("node")
	if _, err := fw.Apply(ctx, c, node); err != nil {
		b.Fatal(err)
	}

	const baselineRuns = 5
	start := time.Now()
	for range baselineRuns {
		mustRun(b, ufw, "ufw", "status")
	}
	baseline := time.Since(start) / baselineRuns

	ufw.reset()
	runs := 0
	start = time.Now()
	for b.Loop() {
		res, err := fw.Apply(ctx, c, node)
		if err != nil || len(res.Applied) != 0 {
			b.Fatalf("no-op run changed %v, err %v", res.Applied, err)
		}
		runs++
	}
	perRun := time.Since(start) / time.Duration(runs)
	reads, writes := ufw.counts()
	b.ReportMetric(float64(reads)/float64(runs), "ufw-reads/op")
	b.ReportMetric(float64(writes)/float64(runs), "ufw-writes/op")
	b.ReportMetric(float64(baseline.Microseconds())/1000, "ufw-status-ms")
	b.ReportMetric(float64(perRun)/float64(baseline), "x-ufw-status")
	b.Logf("no-op run: %v (one bare ufw status: %v), %d rules, %d reads and %d writes over %d runs",
		perRun, baseline, len(Desired(c, node)), reads, writes, runs)
	ratio := float64(perRun) / float64(baseline)
	benchfig.Report(b, benchfig.Figure{
		Name:     "firewall no-op reconcile",
		Value:    fmt.Sprintf("%s (%.2f× ufw status; %d reads, %d writes in %d runs)", perRun.Round(100*time.Microsecond), ratio, reads, writes, runs),
		Target:   "one ufw read, no write, ≤ 1.5× ufw status",
		Baseline: "bare ufw status " + baseline.Round(100*time.Microsecond).String(),
		Met:      benchfig.Met(reads <= runs && writes == 0 && ratio <= 1.5),
	})
}
