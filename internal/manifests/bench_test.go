package manifests

import "testing"

// BenchmarkRender and BenchmarkAnalyze report objects and pods per run:
// both run on every reconcile of the leader, so they must stay cheap on a Pi.
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
}

func BenchmarkAnalyze(b *testing.B) {
	c := homelab(b)
	set, err := Render(c)
	if err != nil {
		b.Fatal(err)
	}
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
