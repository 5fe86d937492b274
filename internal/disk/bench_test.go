package disk

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// BenchmarkLateDeviceMount measures the time from a matching device
// appearing (losetup returns) to Ensure having mounted it, driven by kernel
// uevents and, as the baseline, by a 1 s rescan alone. Run with
//
//	go test ./internal/disk -run '^$' -bench LateDevice -benchtime 5x
func BenchmarkLateDeviceMount(b *testing.B) {
	needRealDisks(b)
	modes := []struct {
		unit string
		cfg  WatchConfig
	}{
		{"ms-uevent/mount", WatchConfig{Rescan: time.Hour}},
		{"ms-poll1s/mount", WatchConfig{NoUevents: true, Rescan: time.Second}},
	}
	sums := make([]time.Duration, len(modes))
	for i := 0; i < b.N; i++ {
		for j, mode := range modes {
			sums[j] += lateMountOnce(b, mode.cfg)
		}
	}
	for j, mode := range modes {
		b.ReportMetric(float64(sums[j].Microseconds())/1000/float64(b.N), mode.unit)
	}
	b.ReportMetric(float64(sums[1])/float64(sums[0]), "poll/uevent")
	uevent, poll := sums[0]/time.Duration(b.N), sums[1]/time.Duration(b.N)
	benchfig.Report(b, benchfig.Figure{
		Name:     "disk: device appears → mounted",
		Value:    uevent.Round(100 * time.Microsecond).String(),
		Target:   "≤ 100ms",
		Baseline: "1 s rescan alone " + poll.Round(time.Millisecond).String(),
		Met:      benchfig.Met(uevent <= 100*time.Millisecond),
	})
	b.ReportMetric(0, "ns/op")
}

func lateMountOnce(b *testing.B, cfg WatchConfig) time.Duration {
	uuid := newUUID(b)
	img := ext4Image(b, uuid)
	d := testDisk(filepath.Join(b.TempDir(), "hd1"), config.DiskSelector{UUID: uuid}, config.FormatNever)
	m, _, _ := realManager(b)
	done, stop := reconcile(b, m, d, cfg)
	defer stop()
	// Devices arrive at any phase of the rescan period, not right after it
	// started: spread the arrival uniformly over one period of the baseline.
	time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
	dev := attach(b, img)
	start := time.Now()
	var at time.Time
	select {
	case at = <-done:
	case <-time.After(30 * time.Second):
		b.Fatal("late device not mounted within 30s")
	}
	detach(b, dev)
	return at.Sub(start)
}
