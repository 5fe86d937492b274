package capacity

import "testing"

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
}
