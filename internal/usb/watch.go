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
	// Debounce is the quiet time after the last event before a rescan, so
	// a flapping dongle settles to one change (config usb.debounce).
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
	// maxWaitFactor bounds how long events can postpone a rescan: a dongle
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
// off) and after that only when the matched result changes. onChange runs on
// Run's goroutine; events arriving meanwhile are coalesced. A failed scan is
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

// loop turns events into debounced rescans until ctx ends.
func (w *Watcher) loop(ctx context.Context, fsw *fsnotify.Watcher, tree devTree, uevents <-chan struct{}, last Result, onChange func(Result)) error {
	deb := newDebouncer(w.clock, w.opts.Debounce, w.opts.Debounce*maxWaitFactor)
	defer deb.stop()
	resync := w.clock.NewTicker(w.opts.Resync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return fmt.Errorf("usb hotplug watch closed")
			}
			if tree.relevant(ev) {
				tree.arm(fsw, w.log)
				deb.poke()
			}
		case err := <-fsw.Errors:
			// An overflow means events were lost: rescan to be sure.
			w.log.Warn("usb hotplug watch error", zap.Error(err))
			tree.arm(fsw, w.log)
			deb.poke()
		case <-uevents:
			deb.poke()
		case <-deb.c():
			deb.fired()
			last = w.rescan(last, onChange, "hotplug")
		case <-resync.C():
			last = w.rescan(last, onChange, "resync")
		}
	}
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

// rescan scans and matches, calling onChange when the result differs from
// last. It returns the result to compare the next scan against.
func (w *Watcher) rescan(last Result, onChange func(Result), reason string) Result {
	res, err := w.scan()
	if err != nil {
		w.log.Warn("usb scan failed", zap.String("reason", reason), zap.Error(err))
		return last
	}
	if res.Equal(last) {
		w.log.Debug("usb devices unchanged", zap.String("reason", reason))
		return last
	}
	w.log.Info("usb devices changed", zap.String("reason", reason),
		zap.Any("labels", res.Labels), zap.Int("matches", len(res.Matches)))
	onChange(res)
	return res
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
