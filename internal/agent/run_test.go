package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// countingDaemon counts the notifications the daemon loop sends.
type countingDaemon struct {
	mu        sync.Mutex
	watchdogs int
}

func (d *countingDaemon) Ready() error        { return nil }
func (d *countingDaemon) Status(string) error { return nil }
func (d *countingDaemon) Stopping() error     { return nil }
func (d *countingDaemon) Watchdog() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watchdogs++
	return nil
}

func (d *countingDaemon) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watchdogs
}

// The watchdog is fed while the worker is idle or making progress and
// starved when a reconcile stalls, so systemd restarts a hung daemon.
func TestSuperviseFeedsWatchdogOnlyWhileWorkProgresses(t *testing.T) {
	a := &Agent{Deps: Deps{Clock: host.RealClock{}}, log: zaptest.NewLogger(t)}
	opts := RunOptions{Watchdog: 5 * time.Millisecond, Resync: time.Hour, StallLimit: 100 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		lastBeat time.Duration // ago; 0 = idle
		wantFed  bool
	}{
		{"idle", 0, true},
		{"progressing", time.Millisecond, true},
		{"stalled", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var beat atomic.Int64
			if tc.lastBeat > 0 {
				beat.Store(time.Now().Add(-tc.lastBeat).UnixNano())
			}
			d := &countingDaemon{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				a.supervise(ctx, d, newQueue(), &beat, opts)
			}()
			// Poll with a deadline: at least 3 pings when fed.
			deadline := time.Now().Add(2 * time.Second)
			for d.count() < 3 && time.Now().Before(deadline) {
				if tc.lastBeat > 0 && tc.lastBeat < opts.StallLimit {
					beat.Store(time.Now().UnixNano()) // the worker reports progress
				}
				time.Sleep(5 * time.Millisecond) // pacing the refresh, not waiting for a condition
			}
			cancel()
			<-done
			if fed := d.count() >= 3; fed != tc.wantFed {
				t.Errorf("watchdog pings = %d, want fed=%v", d.count(), tc.wantFed)
			}
		})
	}
}

// A labels or disk pass that succeeds after a failed full pass does not put
// the node in step: the failed step's retry is still owed (seen in the e2e:
// a block event right after a failed apply turned STATUS to "in step").
func TestFullPassSettlesOnlyOnAFullSuccess(t *testing.T) {
	type pass struct {
		w   work
		err error
	}
	failed := context.DeadlineExceeded
	for _, tc := range []struct {
		name       string
		passes     []pass
		wantInStep bool
	}{
		{"full ok", []pass{{workFull, nil}}, true},
		{"labels ok", []pass{{workLabels, nil}}, true},
		{"full failed, then disks ok", []pass{{workFull, failed}, {workDisks, nil}}, false},
		{"full failed, then labels ok", []pass{{workFull, failed}, {workLabels, nil}}, false},
		{"full failed, then full ok", []pass{{workFull, failed}, {workFull, nil}}, true},
		{"labels failed, then config ok", []pass{{workLabels, failed}, {workConfig, nil}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f fullPass
			var inStep bool
			for _, p := range tc.passes {
				inStep = f.settle(p.w, p.err)
			}
			if inStep != tc.wantInStep {
				t.Errorf("in step = %v, want %v", inStep, tc.wantInStep)
			}
		})
	}
}
