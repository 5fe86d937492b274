package agent

import (
	"context"
	"errors"
	"fmt"
)

// Join provisions the node: it applies every step of the table that applies
// here, in order (preflight → disk → firewall → k3s → register → usb →
// labels → quorum → manifests). Every step is idempotent, so Join after a
// crash converges, and Join on a joined node changes nothing.
func (a *Agent) Join(ctx context.Context) error {
	lock, err := a.tryLock("nodeagent join")
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return fmt.Errorf("%w; `systemctl status nodeagent` shows what it does (stop it first to join by hand)", err)
		}
		return err
	}
	defer lock.Unlock()
	return a.join(ctx, "")
}

// join runs the steps from the one named from ("" = all) and records the
// outcome; the daemon calls it with the lock held.
func (a *Agent) join(ctx context.Context, from string) error {
	if err := checkNotLeft(a.Root); err != nil {
		return err
	}
	err := a.runStepsFrom(ctx, from)
	st, loadErr := a.loadState()
	if loadErr != nil {
		return errors.Join(err, loadErr)
	}
	if err != nil {
		st.recordError(err, a.Clock.Now())
		return errors.Join(err, SaveState(a.Root, st))
	}
	if !st.Joined {
		st.Joined, st.JoinedAt = true, a.Clock.Now().UTC()
	}
	return SaveState(a.Root, st)
}
