package usb

import (
	"testing"
	"time"
)

// step is one thing that happens to a pacer at a time after t0: an event,
// or a scan with what it found.
type step struct {
	at               time.Duration
	event            bool
	changed, settled bool
	wantPublish      bool
}

func TestPacer(t *testing.T) {
	const debounce = 500 * time.Millisecond
	ms := time.Millisecond
	scan := func(at time.Duration, changed, settled, publish bool) step {
		return step{at: at, changed: changed, settled: settled, wantPublish: publish}
	}
	ev := func(at time.Duration) step { return step{at: at, event: true} }
	tests := []struct {
		name string
		// published is a publish before t0 (0: none).
		published time.Duration
		steps     []step
		// wantNext is when the pacer wants to scan after the steps, -1
		// for idle.
		wantNext time.Duration
		// wantEventAt is the first event of the last published burst.
		wantEventAt time.Duration
	}{
		{name: "complete plug is published at the first scan",
			steps: []step{ev(0), ev(2 * ms), scan(7*ms, true, true, true)}, wantNext: -1},
		{name: "incomplete plug waits for its link",
			steps: []step{ev(0), scan(5*ms, true, false, false)}, wantNext: 25 * ms},
		{name: "a storm of events cannot put the scan off",
			steps: []step{ev(0), ev(3 * ms), ev(6 * ms)}, wantNext: 5 * ms},
		{name: "link event rescans soon",
			steps: []step{ev(0), scan(5*ms, true, false, false), ev(20 * ms), scan(25*ms, true, true, true)}, wantNext: -1},
		{name: "never complete is published at the debounce",
			steps: []step{ev(0), scan(5*ms, true, false, false), scan(490*ms, true, false, false), scan(500*ms, true, false, true)}, wantNext: -1},
		{name: "poll stops at the debounce",
			steps: []step{ev(0), scan(490*ms, true, false, false)}, wantNext: 500 * ms},
		{name: "unchanged scan ends the burst",
			steps: []step{ev(0), scan(5*ms, false, false, false)}, wantNext: -1},
		{name: "change soon after a publish waits for quiet",
			published: -100 * ms, steps: []step{ev(0), ev(300 * ms)}, wantNext: 800 * ms},
		{name: "held change is published when quiet, complete or not",
			published: -100 * ms, steps: []step{ev(0), scan(500*ms, true, false, true)}, wantNext: -1, wantEventAt: 0},
		{name: "flapper is published at the max wait",
			published: -100 * ms, steps: []step{ev(0), ev(4900 * ms), ev(4990 * ms)}, wantNext: 5000 * ms},
		{name: "change after a quiet debounce is free again",
			published: -500 * ms, steps: []step{ev(0), scan(5*ms, true, true, true)}, wantNext: -1},
		{name: "the burst after a publish is held",
			steps: []step{ev(0), scan(5*ms, true, true, true), ev(50 * ms)}, wantNext: 550 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			p := &pacer{debounce: debounce, maxWait: debounce * maxWaitFactor}
			if tt.published != 0 {
				p.publishedAt(t0.Add(tt.published))
			}
			var eventAt time.Time
			for i, s := range tt.steps {
				if s.event {
					p.event(t0.Add(s.at))
					continue
				}
				publish, at := p.scanned(t0.Add(s.at), s.changed, s.settled)
				if publish != s.wantPublish {
					t.Fatalf("step %d at %s: publish = %v, want %v", i, s.at, publish, s.wantPublish)
				}
				if publish {
					eventAt = at
				}
			}
			next, ok := p.next()
			switch {
			case tt.wantNext < 0 && ok:
				t.Errorf("next scan at %s, want idle", next.Sub(t0))
			case tt.wantNext >= 0 && !ok:
				t.Errorf("idle, want a scan at %s", tt.wantNext)
			case ok && !next.Equal(t0.Add(tt.wantNext)):
				t.Errorf("next scan at %s, want %s", next.Sub(t0), tt.wantNext)
			}
			if !eventAt.IsZero() && !eventAt.Equal(t0.Add(tt.wantEventAt)) {
				t.Errorf("published with EventAt %s, want %s", eventAt.Sub(t0), tt.wantEventAt)
			}
		})
	}
}
