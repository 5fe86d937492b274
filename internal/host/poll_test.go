package host

import (
	"context"
	"errors"
	"strings"
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
