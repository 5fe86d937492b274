package manifests

import (
	"fmt"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// BenchmarkRender reports objects per run: it runs on every reconcile of
// the leader, so it must stay cheap on a Pi.
func BenchmarkRender(b *testing.B) {
	c := homelab(b)
	var n int
	for b.Loop() {
		set, err := Render(c)
		if err != nil {
			b.Fatal(err)
		}
		n = len(set)
	}
	b.ReportMetric(float64(n), "objects/op")
	benchfig.Report(b, benchfig.Figure{
		Name:  fmt.Sprintf("render the homelab's manifests (%d objects)", n),
		Value: b.Elapsed().Round(time.Microsecond).String(),
	})
}
