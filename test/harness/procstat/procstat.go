// Package procstat watches a process through /proc: memory, CPU, threads
// and open files. test/deb and test/e2e use it to hold the idle daemon to
// the targets. A container's process is read from the host through
// the container's /proc (nspawn.Container.Path), so the measurement runs
// nothing inside the container that would disturb it.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Targets of the issue for the idle daemon on a Pi.
const (
	MaxIdleRSSKiB  = 25 * 1024
	MaxIdleCPUPerc = 0.2
	// MaxIdleRSSGrowthKiB is growth over a window taken for a leak rather
	// than the Go runtime settling.
	MaxIdleRSSGrowthKiB = 2 * 1024
)

// Sample is one reading of a process.
type Sample struct {
	RSSKiB  int
	AnonKiB int // RssAnon: heap and stacks; the rest is mapped files (the binary)
	Threads int
	// CPUTicks is utime+stime+cutime+cstime in USER_HZ (100 a second): the
	// process's own CPU and that of the children it reaped.
	CPUTicks int
	FDs      int
}

// Read samples the process whose /proc directory is dir.
func Read(dir string) (Sample, error) {
	var s Sample
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			s.RSSKiB = v
		case "RssAnon:":
			s.AnonKiB = v
		case "Threads:":
			s.Threads = v
		}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime, stime, cutime and cstime are fields 14 to 17 of proc(5).
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 15 {
		return s, fmt.Errorf("parsing %s/stat: %q", dir, stat)
	}
	for _, f := range rest[11:15] {
		ticks, _ := strconv.Atoi(f)
		s.CPUTicks += ticks
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	return s, nil
}

// Window is how long to watch: NODEAGENT_IDLE_WINDOW (a Go duration; 10m
// for the figure) when set, else def.
func Window(def time.Duration) (time.Duration, error) {
	s := os.Getenv("NODEAGENT_IDLE_WINDOW")
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("NODEAGENT_IDLE_WINDOW=%q: %w", s, err)
	}
	return d, nil
}

// Watch is what a process did over a window.
type Watch struct {
	First, Last, Peak Sample
	Elapsed           time.Duration
}

// WatchFor samples the process at dir once a second for window.
func WatchFor(dir string, window time.Duration) (Watch, error) {
	var w Watch
	var err error
	if w.First, err = Read(dir); err != nil {
		return w, err
	}
	w.Peak, w.Last = w.First, w.First
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(start) < window {
		<-tick.C
		if w.Last, err = Read(dir); err != nil {
			return w, fmt.Errorf("the process went away: %w", err)
		}
		if w.Last.RSSKiB > w.Peak.RSSKiB {
			w.Peak.RSSKiB, w.Peak.AnonKiB = w.Last.RSSKiB, w.Last.AnonKiB
		}
		w.Peak.FDs, w.Peak.Threads = max(w.Peak.FDs, w.Last.FDs), max(w.Peak.Threads, w.Last.Threads)
	}
	w.Elapsed = time.Since(start)
	return w, nil
}

// CPUPerc is the CPU used over the window, in percent of one core.
func (w Watch) CPUPerc() float64 {
	return float64(w.Last.CPUTicks-w.First.CPUTicks) / 100 / w.Elapsed.Seconds() * 100
}

// String is the figures in one line.
func (w Watch) String() string {
	return fmt.Sprintf("RSS %d→%d KiB (peak %d, anonymous %d; target ≤ %d), CPU %.3f%% of a core (%d ticks; target ≤ %.1f%%), fds %d→%d, threads %d→%d",
		w.First.RSSKiB, w.Last.RSSKiB, w.Peak.RSSKiB, w.Peak.AnonKiB, MaxIdleRSSKiB, w.CPUPerc(), w.Last.CPUTicks-w.First.CPUTicks, MaxIdleCPUPerc,
		w.First.FDs, w.Last.FDs, w.First.Threads, w.Last.Threads)
}

// Problems are the idle targets missed and the growth seen.
func (w Watch) Problems() []string {
	var p []string
	if w.Peak.RSSKiB > MaxIdleRSSKiB {
		p = append(p, fmt.Sprintf("RSS peaked at %d KiB (%d KiB anonymous), the target is ≤ %d KiB", w.Peak.RSSKiB, w.Peak.AnonKiB, MaxIdleRSSKiB))
	}
	if grew := w.Last.RSSKiB - w.First.RSSKiB; grew > MaxIdleRSSGrowthKiB {
		p = append(p, fmt.Sprintf("RSS grew by %d KiB (more than %d KiB)", grew, MaxIdleRSSGrowthKiB))
	}
	if w.Last.FDs > w.First.FDs {
		p = append(p, fmt.Sprintf("open fds grew: %d → %d", w.First.FDs, w.Last.FDs))
	}
	if w.Last.Threads > w.First.Threads+2 {
		p = append(p, fmt.Sprintf("threads grew: %d → %d", w.First.Threads, w.Last.Threads))
	}
	if cpu := w.CPUPerc(); cpu > MaxIdleCPUPerc {
		p = append(p, fmt.Sprintf("CPU %.3f%% of a core, the target is ≤ %.1f%%", cpu, MaxIdleCPUPerc))
	}
	return p
}
