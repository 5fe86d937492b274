package usb

import "time"

const (
	// coalesce gathers the events of one kernel action (a device, its
	// interface, its tty) into one scan.
	coalesce = 5 * time.Millisecond
	// settlePoll rescans a result that is still arriving: a watch on a
	// directory udev just made can miss the link made right after.
	settlePoll = 20 * time.Millisecond
)

// pacer decides when the watcher scans and whether a changed result is
// published. A burst of events is answered at once when the devices it
// brings are complete, else at the latest debounce after its first event.
// A burst that starts within debounce of a publish is held until debounce
// of quiet (at most maxWait after its first event), so a flapping dongle
// costs one more publish, not one per flap. It holds no clock: the watcher
// passes the time in, so tests give it any.
type pacer struct {
	debounce, maxWait time.Duration
	// burst is the first event not yet answered by a publish or by a scan
	// that found nothing changed; zero when idle.
	burst     time.Time
	lastEvent time.Time
	// unscanned is the first event no scan has seen yet, zero if none: a
	// storm of events cannot put the scan off.
	unscanned time.Time
	lastScan  time.Time
	held      bool // the burst began within debounce of a publish
	published time.Time
}

// event records a relevant event at now.
func (p *pacer) event(now time.Time) {
	if p.burst.IsZero() {
		p.burst = now
		p.held = !p.published.IsZero() && now.Sub(p.published) < p.debounce
	}
	p.lastEvent = now
	if p.unscanned.IsZero() {
		p.unscanned = now
	}
}

// idle reports whether no burst awaits an answer.
func (p *pacer) idle() bool { return p.burst.IsZero() }

// next is when to scan; ok is false when idle.
func (p *pacer) next() (at time.Time, ok bool) {
	switch {
	case p.idle():
		return time.Time{}, false
	case p.held:
		return earliest(p.lastEvent.Add(p.debounce), p.burst.Add(p.maxWait)), true
	case !p.unscanned.IsZero():
		return earliest(p.unscanned.Add(coalesce), p.burst.Add(p.debounce)), true
	default:
		return earliest(p.lastScan.Add(settlePoll), p.burst.Add(p.debounce)), true
	}
}

// scanned records a scan at now and decides. changed: the result differs
// from the last published one; settled: every device it brings is complete.
// It returns whether to publish, and the burst's first event.
func (p *pacer) scanned(now time.Time, changed, settled bool) (publish bool, eventAt time.Time) {
	p.lastScan, p.unscanned = now, time.Time{}
	eventAt = p.burst
	switch {
	case !changed:
		p.burst = time.Time{}
		return false, time.Time{}
	case p.held, settled, !now.Before(p.burst.Add(p.debounce)):
		p.publishedAt(now)
		return true, eventAt
	}
	return false, time.Time{}
}

// publishedAt records a publish at now that answered any burst.
func (p *pacer) publishedAt(now time.Time) {
	p.published = now
	p.burst = time.Time{}
}

// dropped gives up on the burst (a failed scan); the next event or the
// resync retries.
func (p *pacer) dropped() { p.burst, p.unscanned = time.Time{}, time.Time{} }

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
