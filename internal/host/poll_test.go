package host

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollUntil(t *testing.T) {
	ctx := context.Background()
	attempts := 0
	err := PollUntil(ctx, RealClock{}, "third time", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
		attempts++
		return attempts == 3, errors.New("not yet")
	})
	if err != nil || attempts != 3 {
		t.Errorf("PollUntil = %v after %d attempts, want done on the third", err, attempts)
	}

	notYet := errors.New("node pi4-1 not registered yet")
	err = PollUntil(ctx, RealClock{}, "node registration", 20*time.Millisecond, time.Millisecond, func(context.Context) (bool, error) {
		return false, notYet
	})
	if !errors.Is(err, notYet) || !strings.HasPrefix(err.Error(), "node registration: not done after 20ms") {
		t.Errorf("timeout error = %v, want it to name the wait and wrap the last attempt's error", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = PollUntil(cancelled, RealClock{}, "never", time.Minute, time.Minute, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("PollUntil after ctx ended = %v, want context.Canceled", err)
	}
}

// Every check that comes back marks progress; a check that hangs does not,
// so the daemon's stall rule still catches it (issue #22, item 2).
func TestPollUntilMarksProgressPerCheck(t *testing.T) {
	var marks atomic.Int32
	ctx := WithProgress(context.Background(), func() { marks.Add(1) })
	attempts := 0
	err := PollUntil(ctx, RealClock{}, "fourth time", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
		attempts++
		return attempts == 4, nil
	})
	if err != nil || marks.Load() != 3 {
		t.Errorf("PollUntil = %v with %d progress marks, want 3 (one per check that did not finish)", err, marks.Load())
	}

	marks.Store(0)
	hung, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = PollUntil(hung, RealClock{}, "hung", time.Minute, time.Millisecond, func(ctx context.Context) (bool, error) {
		<-ctx.Done()
		return false, ctx.Err()
	})
	if marks.Load() != 0 {
		t.Errorf("a check hung until its context ended marked progress %d times", marks.Load())
	}
}
