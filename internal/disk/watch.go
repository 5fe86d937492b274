package disk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/uevent"
)

// WatchConfig tunes Watch; the zero value is event-driven with the default
// rescan.
type WatchConfig struct {
	// NoUevents turns event delivery off, leaving only the rescan (the
	// polling baseline of the benchmark, or a host that refuses the socket).
	NoUevents bool
	// Rescan is the safety-net period; 0 means DefaultRescan.
	Rescan time.Duration
}

// Watch calls notify once as soon as it listens, then whenever a block
// device is added, changed or removed, and every rescan period, until ctx
// ends. The first call covers anything that appeared before the subscription. notify runs on Watch's goroutine
// and should only poke the reconcile loop. A failure to open the uevent
// socket is logged and Watch falls back to rescanning.
func (m *Manager) Watch(ctx context.Context, notify func()) error {
	return m.WatchWith(ctx, WatchConfig{Rescan: m.rescan}, notify)
}

// WatchWith is Watch with explicit settings. A burst of events costs one
// notification (see burst).
func (m *Manager) WatchWith(ctx context.Context, cfg WatchConfig, notify func()) error {
	events, tick, stop := m.subscribe(cfg)
	defer stop()
	notify()
	b := burst{clock: m.clock}
	defer b.end()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-events:
			m.log.Debug("block device event")
			b.event()
		case <-b.due():
			b.end()
			notify()
		case <-tick.C():
			notify()
		}
	}
}

// One device sends several block events (the disk, then each partition),
// and other devices' events reach this watch too: setting up loop devices
// elsewhere on the machine was seen to start 30 disk passes in 2 s. So a
// burst is acted on once it has been quiet for burstSettle, and at least
// every burstMaxDelay while it lasts.
const (
	burstSettle   = 100 * time.Millisecond
	burstMaxDelay = time.Second
)

// burst coalesces events: due fires burstSettle after the last event, but no
// later than burstMaxDelay after the first one not yet acted on.
type burst struct {
	clock host.Clock
	timer host.Timer // nil while no event is pending
	first time.Time
}

func (b *burst) event() {
	now := b.clock.Now()
	if b.timer == nil {
		b.first = now
		b.timer = b.clock.NewTimer(burstSettle)
		return
	}
	b.timer.Reset(max(0, min(burstSettle, b.first.Add(burstMaxDelay).Sub(now))))
}

// due is nil, which never fires in a select, while no event is pending.
func (b *burst) due() <-chan time.Time {
	if b.timer == nil {
		return nil
	}
	return b.timer.C()
}

// end forgets the pending events once they are acted on.
func (b *burst) end() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// subscribe opens the uevent socket before returning, so a caller that
// scans afterwards cannot miss a device arriving in between.
func (m *Manager) subscribe(cfg WatchConfig) (<-chan struct{}, host.Ticker, func()) {
	if cfg.Rescan <= 0 {
		cfg.Rescan = DefaultRescan
	}
	ctx, cancel := context.WithCancel(context.Background())
	var events <-chan struct{}
	if !cfg.NoUevents {
		// Events only trigger a rescan, so a spoofed one (only root can
		// send to the kernel's group) costs a blkid run and nothing more.
		ch, err := uevent.Listen(ctx, func(ev uevent.Event) bool { return ev.Subsystem == "block" })
		if err != nil {
			m.log.Warn("uevents unavailable, rescanning only", zap.Error(err), zap.Duration("rescan", cfg.Rescan))
		}
		events = ch
	}
	tick := m.clock.NewTicker(cfg.Rescan)
	return events, tick, func() { cancel(); tick.Stop() }
}

// WaitFor waits up to d.DeviceTimeout for the disk's device to appear and
// returns it. It returns an error wrapping ErrNotFound at the deadline, and
// any other selection error (several matches) at once.
func (m *Manager) WaitFor(ctx context.Context, d config.Disk, cfg WatchConfig) (Device, error) {
	events, tick, stop := m.subscribe(cfg)
	defer stop()
	deadline := m.clock.NewTimer(d.DeviceTimeout.Duration)
	defer deadline.Stop()
	for {
		devs, err := Scan(ctx, m.root, m.run)
		if err != nil {
			return Device{}, err
		}
		dev, err := Select(devs, d.Selector)
		if !errors.Is(err, ErrNotFound) {
			return dev, err
		}
		select {
		case <-ctx.Done():
			return Device{}, ctx.Err()
		case <-deadline.C():
			return Device{}, fmt.Errorf("waited %s: %w", d.DeviceTimeout.Duration, err)
		case <-events:
		case <-tick.C():
		}
	}
}
