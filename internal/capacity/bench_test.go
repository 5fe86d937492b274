package capacity

import (
	"fmt"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// BenchmarkAnalyze reports pods per run: the analysis runs on every
// reconcile of the leader, so it must stay cheap on a Pi.
func BenchmarkAnalyze(b *testing.B) {
	c := homelab(b)
	set := render(b, c)
	var pods int
	for b.Loop() {
		r, err := Analyze(c, set, Options{})
		if err != nil {
			b.Fatal(err)
		}
		pods = len(r.Placements) + len(r.Transient)
	}
	b.ReportMetric(float64(pods), "pods/op")
	benchfig.Report(b, benchfig.Figure{
		Name:  fmt.Sprintf("capacity analysis (%d pods)", pods),
		Value: b.Elapsed().Round(time.Microsecond).String(),
	})
}
