package disk

import (
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// stepClock is a clock that moves only when told; its timers fire when the
// clock passes their deadline.
type stepClock struct {
	now    time.Time
	timers []*stepTimer
}

type stepTimer struct {
	clock    *stepClock
	deadline time.Time
	armed    bool
	c        chan time.Time
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) NewTimer(d time.Duration) host.Timer {
	t := &stepTimer{clock: c, c: make(chan time.Time, 1)}
	t.Reset(d)
	c.timers = append(c.timers, t)
	return t
}

func (c *stepClock) NewTicker(time.Duration) host.Ticker { panic("not used") }

// advance moves the clock by d and fires the timers that fall due.
func (c *stepClock) advance(d time.Duration) {
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.armed && !t.deadline.After(c.now) {
			t.armed = false
			t.c <- c.now
		}
	}
}

func (t *stepTimer) C() <-chan time.Time { return t.c }

func (t *stepTimer) Stop() bool {
	was := t.armed
	t.armed = false
	return was
}

// Reset re-arms the timer and drops a value not yet received, as
// *time.Timer does since Go 1.23.
func (t *stepTimer) Reset(d time.Duration) bool {
	was := t.Stop()
	select {
	case <-t.c:
	default:
	}
	t.deadline, t.armed = t.clock.now.Add(d), true
	return was
}

// fired reports whether the burst is due now, acting on it like WatchWith.
func fired(b *burst) bool {
	select {
	case <-b.due():
		b.end()
		return true
	default:
		return false
	}
}

func TestBurstActsOnceQuiet(t *testing.T) {
	clock := &stepClock{now: time.Unix(0, 0)}
	b := burst{clock: clock}
	if fired(&b) {
		t.Fatal("due before any event")
	}
	// A disk and its partition: two events 5 ms apart, one pass.
	b.event()
	clock.advance(5 * time.Millisecond)
	b.event()
	clock.advance(burstSettle - time.Millisecond)
	if fired(&b) {
		t.Fatal("due before the burst was quiet for burstSettle")
	}
	clock.advance(time.Millisecond)
	if !fired(&b) {
		t.Fatal("not due burstSettle after the last event")
	}
	clock.advance(time.Hour)
	if fired(&b) {
		t.Error("due again without a new event")
	}
}

func TestBurstStormIsActedOnEverySecond(t *testing.T) {
	clock := &stepClock{now: time.Unix(0, 0)}
	b := burst{clock: clock}
	events, passes := 0, 0
	// An event every 20 ms for 3 s, as a loop-device set-up elsewhere sends.
	for step := time.Duration(0); step < 3*time.Second; step += 20 * time.Millisecond {
		b.event()
		events++
		clock.advance(20 * time.Millisecond)
		if fired(&b) {
			passes++
		}
	}
	clock.advance(burstSettle)
	if fired(&b) {
		passes++
	}
	// One pass a second while the storm lasts, and one once it is quiet.
	if passes < 3 || passes > 4 {
		t.Errorf("%d events made %d passes, want 3 or 4", events, passes)
	}
}
