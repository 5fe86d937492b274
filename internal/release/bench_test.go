package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

const benchSize = 70 << 20 // about the size of a k3s-arm64 binary

// BenchmarkDownloadVsCurl downloads and verifies a 70 MB file over loopback
// and compares the throughput with `curl -o` of the same file in the same
// run (curl neither hashes nor fsyncs, so it is the upper bound).
func BenchmarkDownloadVsCurl(b *testing.B) {
	const curl = "/usr/bin/curl"
	if _, err := os.Stat(curl); err != nil {
		b.Skipf("%s not installed: %v", curl, err)
	}
	bin := payload(9, benchSize)
	srv := newRelServer(b, bin)
	runner := host.NewExecRunner(zap.NewNop())
	url := srv.URL + "/" + escapeVersion(testVersion) + "/k3s-arm64"
	var ours, theirs time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate the order and pair the runs: on a shared 2-core machine
		// the load moves faster than a whole benchmark, so the median of
		// per-pair ratios is the stable figure.
		var o, c time.Duration
		if i%2 == 0 {
			o, c = timeOurs(b, srv.URL), timeCurl(b, runner, curl, url)
		} else {
			c, o = timeCurl(b, runner, curl, url), timeOurs(b, srv.URL)
		}
		ours, theirs = ours+o, theirs+c
		ratios = append(ratios, c.Seconds()/o.Seconds())
	}
	b.StopTimer()
	mb := float64(benchSize) / (1 << 20) * float64(b.N)
	b.ReportMetric(mb/ours.Seconds(), "nodeagent_MB/s")
	b.ReportMetric(mb/theirs.Seconds(), "curl_MB/s")
	b.ReportMetric(median(ratios), "median_ratio")
	benchfig.Report(b, benchfig.Figure{
		Name:     "download + verify 70 MB over loopback",
		Value:    fmt.Sprintf("%.0f MB/s (%.2f× curl, median of pairs)", mb/ours.Seconds(), median(ratios)),
		Target:   "≥ 0.8× curl (which neither hashes nor fsyncs)",
		Baseline: fmt.Sprintf("curl -o %.0f MB/s", mb/theirs.Seconds()),
		Met:      benchfig.Met(median(ratios) >= 0.8),
	})
}

func timeOurs(b *testing.B, base string) time.Duration {
	root := host.NewRoot(b.TempDir())
	inst := NewInstaller(root, zap.NewNop(), host.RealClock{}, testOptions())
	start := time.Now()
	if _, err := inst.Install(context.Background(), testK3s(base), "arm64"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func timeCurl(b *testing.B, runner host.Runner, curl, url string) time.Duration {
	out := filepath.Join(b.TempDir(), "k3s")
	start := time.Now()
	if _, err := runner.Run(context.Background(), curl, "-sS", "-f", "-o", out, url); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
