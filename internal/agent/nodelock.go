package agent

import (
	"context"
	"errors"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// LockNode takes the node's lock for who (a command by hand, e.g.
// `nodeagent restore`) so the daemon does nothing on the node meanwhile:
// its passes wait for the lock. It polls for up to wait while another
// nodeagent holds it, telling waiting once; unlock releases it.
func LockNode(ctx context.Context, root host.Root, clock host.Clock, who string, wait time.Duration, waiting func(string)) (unlock func(), err error) {
	a := &Agent{Deps: Deps{Root: root}}
	said := false
	var l nodeLock
	err = host.PollUntil(ctx, clock, "the node lock "+LockPath, wait, time.Second, func(context.Context) (bool, error) {
		var err error
		l, err = a.tryLock(who)
		if errors.Is(err, ErrLocked) && !said {
			said = true
			waiting("waiting: " + err.Error())
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}
