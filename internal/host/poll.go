package host

import (
	"context"
	"fmt"
	"time"
)

// PollUntil runs check every interval until it reports done, ctx ends, or
// timeout passes. Each check that comes back is Progress of ctx. A failed attempt's error is kept: the timeout error names
// what was waited for and wraps the last one.
func PollUntil(ctx context.Context, clock Clock, what string, timeout, interval time.Duration, check func(context.Context) (bool, error)) error {
	deadline := clock.NewTimer(timeout)
	defer deadline.Stop()
	tick := clock.NewTicker(interval)
	defer tick.Stop()
	var lastErr error
	for {
		done, err := check(ctx)
		if done {
			return nil
		}
		if ctx.Err() == nil {
			Progress(ctx) // the check came back: the wait is alive
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			// The cause says why (a reload, a shutdown), not only "canceled".
			return fmt.Errorf("%s: interrupted: %w", what, context.Cause(ctx))
		case <-deadline.C():
			if lastErr != nil {
				return fmt.Errorf("%s: not done after %s: %w", what, timeout, lastErr)
			}
			return fmt.Errorf("%s: not done after %s", what, timeout)
		case <-tick.C():
		}
	}
}

// Sleep waits d on clock, or until ctx ends.
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
