package usb

import (
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/uevent"
)

// Options tune a Watcher; zero values take the config defaults.
type Options struct {
	// Debounce limits flapping and waiting (config usb.debounce). A change
	// is published as soon as the devices it brings have finished arriving,
	// or Debounce after its first event if one never does (no by-id link, no
	// driver). After a publish, further changes are held until Debounce of
	// quiet, so a flapping dongle settles to one more change.
	Debounce time.Duration
	// Resync rescans on a timer as a safety net for missed events (config
	// usb.resync).
	Resync time.Duration
	// Uevents also listens to the kernel's USB and tty uevents, which see
	// devices without a serial port long before the resync does. Only
	// useful when the root is the host (the agent), harmless otherwise.
	Uevents bool
}

// OptionsFrom takes the watcher options from the cluster file.
func OptionsFrom(c config.USB) Options {
	return Options{Debounce: c.Debounce.Duration, Resync: c.Resync.Duration, Uevents: true}
}

const (
	defaultDebounce = 500 * time.Millisecond
	defaultResync   = 10 * time.Minute
	// maxWaitFactor bounds how long events can hold a change back: a dongle
	// that never stops flapping still gets its state published every
	// maxWaitFactor debounce periods.
	maxWaitFactor = 10
)

// Watcher rescans and re-matches USB devices when they come and go.
type Watcher struct {
	root  host.Root
	rules []config.USBRule
	opts  Options
	clock host.Clock
	log   *zap.Logger
}

// NewWatcher returns a Watcher for the devices under root.
func NewWatcher(root host.Root, rules []config.USBRule, opts Options, clock host.Clock, log *zap.Logger) *Watcher {
	if opts.Debounce <= 0 {
		opts.Debounce = defaultDebounce
	}
	if opts.Resync <= 0 {
		opts.Resync = defaultResync
	}
	return &Watcher{root: root, rules: rules, opts: opts, clock: clock, log: log.With(zap.String("component", "usb"))}
}

// Run watches until ctx ends. It calls onChange once with the state at start
// (so the caller can clean up labels of a dongle removed while the node was
// off) and after that only when the matched result changes, paced as
// Options.Debounce says. onChange runs on Run's goroutine; events arriving
// meanwhile are coalesced. A failed scan is
// logged and retried on the next event or resync; Run returns an error only
// when it cannot watch at all.
func (w *Watcher) Run(ctx context.Context, onChange func(Result)) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("starting usb hotplug watch: %w", err)
	}
	defer fsw.Close()
	tree := newDevTree(w.root)
	tree.arm(fsw, w.log)
	uevents := w.uevents(ctx)

	last, err := w.scan()
	if err != nil {
		return err
	}
	onChange(last)
	return w.loop(ctx, fsw, tree, uevents, last, onChange)
}

// loop turns events into rescans, paced by a pacer, until ctx ends.
func (w *Watcher) loop(ctx context.Context, fsw *fsnotify.Watcher, tree devTree, uevents <-chan struct{}, last Result, onChange func(Result)) error {
	p := &pacer{debounce: w.opts.Debounce, maxWait: w.opts.Debounce * maxWaitFactor}
	timer := w.clock.NewTimer(time.Hour)
	defer timer.Stop()
	resync := w.clock.NewTicker(w.opts.Resync)
	defer resync.Stop()
	for {
		w.schedule(p, timer)
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return fmt.Errorf("usb hotplug watch closed")
			}
			if tree.relevant(ev) {
				tree.arm(fsw, w.log)
				p.event(w.clock.Now())
			}
		case err := <-fsw.Errors:
			// An overflow means events were lost: rescan to be sure.
			w.log.Warn("usb hotplug watch error", zap.Error(err))
			tree.arm(fsw, w.log)
			p.event(w.clock.Now())
		case <-uevents:
			p.event(w.clock.Now())
		case <-timer.C():
			last = w.paced(p, last, onChange)
		case <-resync.C():
			// A burst under way rescans anyway; answering it here could
			// publish a device still arriving, or a flap held back.
			if p.idle() {
				last = w.rescan(p, last, onChange)
			}
		}
	}
}

// schedule sets timer to the pacer's next scan, or stops it when idle.
func (w *Watcher) schedule(p *pacer, timer host.Timer) {
	timer.Stop()
	if at, ok := p.next(); ok {
		timer.Reset(max(at.Sub(w.clock.Now()), 0))
	}
}

// paced scans for the pacer and publishes when it says so. It returns the
// result to compare the next scan against.
func (w *Watcher) paced(p *pacer, last Result, onChange func(Result)) Result {
	if at, ok := p.next(); !ok || w.clock.Now().Before(at) {
		return last // a timer that fired before an event moved the scan
	}
	res, err := w.scan()
	if err != nil {
		w.log.Warn("usb scan failed", zap.String("reason", "hotplug"), zap.Error(err))
		p.dropped()
		return last
	}
	changed := !res.Equal(last)
	publish, eventAt := p.scanned(w.clock.Now(), changed, changed && settled(w.root, res, last))
	if !publish {
		w.log.Debug("usb devices unchanged or still arriving", zap.String("reason", "hotplug"), zap.Bool("changed", changed))
		return last
	}
	res.EventAt = eventAt
	w.publish(res, onChange, "hotplug")
	return res
}

// uevents returns the kernel uevent channel, or nil (never ready) when
// switched off or unavailable (not root, not the host network namespace).
func (w *Watcher) uevents(ctx context.Context) <-chan struct{} {
	if !w.opts.Uevents {
		return nil
	}
	ch, err := uevent.Listen(ctx, relevantUevent)
	if err != nil {
		w.log.Warn("kernel uevents unavailable, relying on /dev events and resync", zap.Error(err))
		return nil
	}
	return ch
}

// rescan is the resync's scan: it publishes any difference from last at
// once. It returns the result to compare the next scan against.
func (w *Watcher) rescan(p *pacer, last Result, onChange func(Result)) Result {
	res, err := w.scan()
	if err != nil {
		w.log.Warn("usb scan failed", zap.String("reason", "resync"), zap.Error(err))
		return last
	}
	if res.Equal(last) {
		w.log.Debug("usb devices unchanged", zap.String("reason", "resync"))
		return last
	}
	p.publishedAt(w.clock.Now())
	w.publish(res, onChange, "resync")
	return res
}

func (w *Watcher) publish(res Result, onChange func(Result), reason string) {
	w.log.Info("usb devices changed", zap.String("reason", reason),
		zap.Any("labels", res.Labels), zap.Int("matches", len(res.Matches)))
	onChange(res)
}

func (w *Watcher) scan() (Result, error) {
	devices, err := Scan(w.root)
	if err != nil {
		return Result{}, err
	}
	return Match(devices, w.rules), nil
}

// relevantUevent reports whether ev can change the USB scan: a USB device or
// interface coming, going or binding a driver, or a tty appearing.
func relevantUevent(ev uevent.Event) bool {
	switch ev.Subsystem {
	case "usb", "tty", "usb-serial":
	default:
		return false
	}
	switch ev.Action {
	case "add", "remove", "bind", "unbind", "change":
		return true
	}
	return false
}
