package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// LivePath is where the daemon says what it does right now, for `nodeagent
// status`: the same line as its STATUS, the phase and since when. It is in
// /run, so a reboot forgets it with the daemon. It holds no secret.
const LivePath = "/run/nodeagent/status.json"

// Live is the daemon's current activity.
type Live struct {
	PID         int       `json:"pid"`
	Phase       string    `json:"phase,omitempty"`
	PhaseSince  time.Time `json:"phaseSince,omitzero"`
	Status      string    `json:"status"`
	StatusSince time.Time `json:"statusSince"`
}

// liveReporter passes reports on and keeps LivePath in step with them.
type liveReporter struct {
	Reporter
	root  host.Root
	clock host.Clock
	mu    sync.Mutex
	live  Live
}

func newLiveReporter(r Reporter, root host.Root, clock host.Clock) *liveReporter {
	return &liveReporter{Reporter: r, root: root, clock: clock, live: Live{PID: os.Getpid()}}
}

func (l *liveReporter) PhaseStarted(name string) {
	l.Reporter.PhaseStarted(name)
	l.update(func(v *Live, now time.Time) {
		v.Phase, v.PhaseSince = name, now
		v.Status, v.StatusSince = "phase: "+name, now
	})
}

func (l *liveReporter) PhaseDone(name string, d time.Duration, err error) {
	l.Reporter.PhaseDone(name, d, err)
	l.update(func(v *Live, now time.Time) { v.Phase, v.PhaseSince = "", time.Time{} })
}

func (l *liveReporter) Status(text string) {
	l.Reporter.Status(text)
	l.update(func(v *Live, now time.Time) {
		if v.Status != text {
			v.Status, v.StatusSince = text, now
		}
	})
}

// update changes the record and writes it; a failed write only costs
// `nodeagent status` its first lines.
func (l *liveReporter) update(change func(*Live, time.Time)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	change(&l.live, l.clock.Now())
	data, err := json.Marshal(l.live)
	if err != nil {
		return
	}
	path := l.root.Path(LivePath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	_, _ = host.WriteFileAtomic(path, append(data, '\n'), 0o644)
}

// ReadLive reads what the daemon does now; ok is false when no daemon
// runs (no file, or its process is gone).
func ReadLive(root host.Root) (Live, bool, error) {
	var v Live
	data, err := os.ReadFile(root.Path(LivePath))
	if errors.Is(err, fs.ErrNotExist) {
		return v, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &v)
	}
	if err != nil {
		return v, false, fmt.Errorf("reading %s: %w", LivePath, err)
	}
	if _, err := os.Stat(root.Path(fmt.Sprintf("/proc/%d", v.PID))); err != nil {
		return v, false, nil
	}
	return v, true, nil
}
