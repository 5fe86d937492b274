package e2e

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memoryInUse is the machine's MemTotal - MemAvailable, in bytes.
func memoryInUse() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total, avail int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb << 10
		case "MemAvailable:":
			avail = kb << 10
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("/proc/meminfo has no MemTotal")
	}
	return total - avail, sc.Err()
}

// memoryPeak samples the machine's memory in use every 2 s from its start
// until stop, so the summary can give the run's peak over what was in use
// before it: four containers, each a k3s stand-in with etcd, the
// apiserver, the scheduler, the controller-manager and a kubelet.
type memoryPeak struct {
	base, peak int64
	at         string // the step running at the peak
	step       func() string
	stopOnce   sync.Once
	done       chan struct{}
	mu         sync.Mutex
}

func startMemoryPeak(step func() string) *memoryPeak {
	base, _ := memoryInUse()
	m := &memoryPeak{base: base, peak: base, step: step, done: make(chan struct{})}
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-tick.C:
				if used, err := memoryInUse(); err == nil {
					m.mu.Lock()
					if used > m.peak {
						m.peak, m.at = used, m.step()
					}
					m.mu.Unlock()
				}
			}
		}
	}()
	return m
}

// stop ends the sampling and describes the peak.
func (m *memoryPeak) stop() string {
	m.stopOnce.Do(func() { close(m.done) })
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("peak %d MiB in use on the machine, %d MiB over the %d MiB before the run (during %q)",
		m.peak>>20, (m.peak-m.base)>>20, m.base>>20, m.at)
}
