package agent

import (
	"context"
	"sync"
	"time"
)

// hotplugClock holds the first hotplug event of a USB change the labels do
// not show yet, for the hotplug-to-label metric: the watcher notes it, the
// labels pass that follows reads it.
type hotplugClock struct {
	mu    sync.Mutex
	since time.Time
}

// changed notes a change whose first event came at at (zero for a change
// found by a resync, which no event started).
func (h *hotplugClock) changed(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !at.IsZero() && (h.since.IsZero() || at.Before(h.since)) {
		h.since = at
	}
}

// labelled returns the noted time and forgets it; zero when none.
func (h *hotplugClock) labelled() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.since
	h.since = time.Time{}
	return t
}

// reconcileHotplugLabels is the labels pass after a USB or disk change; it
// records how long a USB change took to reach the labels.
func (a *Agent) reconcileHotplugLabels(ctx context.Context) error {
	if err := a.reconcileLabelsOnce(ctx); err != nil {
		return err
	}
	if at := a.hotplug.labelled(); !at.IsZero() {
		a.metrics.ObserveHotplugToLabel(a.Clock.Now().Sub(at))
	}
	return nil
}
