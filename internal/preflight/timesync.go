package preflight

import (
	"context"
	"fmt"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// WaitTimeSync waits until synced reports true, polling every interval, for
// at most timeout. A Pi has no RTC and boots with a stale clock, which makes
// every TLS certificate look not-yet-valid; k3s must not start before NTP
// synced. The caller wires synced to timedated's NTPSynchronized over D-Bus.
// Each reading while it waits is host.Progress of ctx.
func WaitTimeSync(ctx context.Context, clock host.Clock, synced func() (bool, error), timeout, interval time.Duration) error {
	parent := ctx
	start := clock.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		ok, err := synced()
		if err == nil && ok {
			return nil
		}
		host.Progress(ctx) // the reading came back: the wait is alive
		lastErr = err
		if werr := host.Sleep(ctx, clock, interval); werr != nil {
			if parent.Err() != nil {
				// Not the timeout: a reload or a shutdown ended the wait.
				return fmt.Errorf("waiting for time sync: interrupted after %s: %w",
					clock.Now().Sub(start).Round(time.Second), context.Cause(parent))
			}
			if lastErr != nil {
				return fmt.Errorf("waiting for time sync: not synchronized within %s: %w", timeout, lastErr)
			}
			return fmt.Errorf("waiting for time sync: not synchronized within %s: %w", timeout, werr)
		}
	}
}

// CheckTimeSync turns one NTPSynchronized reading into a doctor check.
func CheckTimeSync(synced func() (bool, error)) Check {
	c := Check{Name: "time-sync", Severity: SeverityError}
	ok, err := synced()
	switch {
	case err != nil:
		c.Message = "cannot read the NTP state: " + err.Error()
	case !ok:
		c.Message = "the clock is not synchronized; TLS certificates may look invalid"
		c.Fix = "enable systemd-timesyncd (timedatectl set-ntp true) and check network access to an NTP server"
	default:
		c.OK, c.Message = true, "clock synchronized"
	}
	return c
}
