package procstat

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadThisProcess(t *testing.T) {
	s, err := Read(fmt.Sprintf("/proc/%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.AnonKiB <= 0 || s.Threads <= 0 || s.FDs < 3 {
		t.Errorf("sample of this test process = %+v, want positive figures", s)
	}
	// Burn CPU until the kernel has counted some: the ticks must move.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		after, err := Read(fmt.Sprintf("/proc/%d", os.Getpid()))
		if err != nil {
			t.Fatal(err)
		}
		if after.CPUTicks > s.CPUTicks {
			return
		}
		for i := 0; i < 1_000_000; i++ {
			_ = fmt.Sprint(i)
		}
	}
	t.Error("CPU ticks never grew while the test used CPU")
}

func TestProblems(t *testing.T) {
	quiet := Sample{RSSKiB: 15000, AnonKiB: 4000, Threads: 8, CPUTicks: 100, FDs: 12}
	w := Watch{First: quiet, Last: quiet, Peak: quiet, Elapsed: time.Minute}
	if p := w.Problems(); len(p) != 0 {
		t.Errorf("a quiet process has problems: %v", p)
	}
	busy := quiet
	busy.RSSKiB, busy.CPUTicks, busy.FDs = 30000, 100+60, 13
	w = Watch{First: quiet, Last: busy, Peak: busy, Elapsed: time.Minute}
	got := strings.Join(w.Problems(), "\n")
	for _, want := range []string{"RSS peaked at 30000 KiB", "RSS grew by 15000 KiB", "open fds grew: 12 → 13", "CPU 1.000% of a core"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}
