package k3s

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

const benchSize = 70 << 20 // about the size of a k3s-arm64 binary

// countingRelease serves one release over loopback (binary and checksum
// file) and counts the requests for each.
type countingRelease struct {
	*httptest.Server
	bins, sums atomic.Int64
}

func newCountingRelease(b testing.TB, bin []byte) *countingRelease {
	r := &countingRelease{}
	sum := sha(bin) + "  k3s-arm64\n"
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasSuffix(req.URL.Path, "/k3s-arm64"):
			r.bins.Add(1)
			w.Write(bin)
		case strings.HasSuffix(req.URL.Path, "/sha256sum-arm64.txt"):
			r.sums.Add(1)
			w.Write([]byte(sum))
		default:
			http.NotFound(w, req)
		}
	}))
	b.Cleanup(r.Close)
	return r
}

func (r *countingRelease) counts() (bins, sums int64) { return r.bins.Load(), r.sums.Load() }

// BenchmarkEnsureNoop is Ensure on an installed node with a 70 MB binary:
// the hash cache makes it read no binary and touch no network; the cold
// metric is the same run after the state file is lost (one full hash).
func BenchmarkEnsureNoop(b *testing.B) {
	fx := newEnsureFixture(b, 16)
	srv := newCountingRelease(b, payload(9, benchSize))
	fx.cluster.K3s.ReleaseBase = srv.URL
	fx.mgr.installer = release.NewInstaller(fx.root, zap.NewNop(), host.RealClock{}, testOptions())
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		b.Fatal(err)
	}
	bins, sums := srv.counts()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := fx.mgr.Ensure(ctx, fx.join())
		if err != nil || res.Changed() || res.Restarted {
			b.Fatalf("no-op Ensure = %+v, %v", res, err)
		}
	}
	b.StopTimer()
	if b2, s2 := srv.counts(); b2 != bins || s2 != sums {
		b.Fatalf("no-op Ensure made requests: binary %d->%d, checksums %d->%d", bins, b2, sums, s2)
	}
	noop := b.Elapsed()
	b.ReportMetric(float64(noop.Microseconds())/1000/float64(b.N), "ms/noop")
	if err := os.Remove(fx.root.Path(release.DefaultStatePath)); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		b.Fatal(err)
	}
	cold := time.Since(start)
	b.ReportMetric(float64(cold.Microseconds())/1000, "ms/cold")
	benchfig.Report(b, benchfig.Figure{
		Name:     "k3s install no-op (70 MB binary in place)",
		Value:    (noop / time.Duration(b.N)).Round(10 * time.Microsecond).String(),
		Target:   "no download, no hash",
		Baseline: "after losing the state file (one full hash) " + cold.Round(time.Millisecond).String(),
		Met:      benchfig.Met(true), // b.Fatalf above on any request
	})
}
