package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// `nodeagent restore` takes the daemon's lock: it waits for a pass in
// progress (up to its wait, then fails naming the holder), and while it
// holds the lock the daemon's pass cannot start.
func TestLockNodeExcludesTheDaemon(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	a := &Agent{Deps: Deps{Root: root}}
	daemon, err := a.tryLock("nodeagent.service")
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	_, err = LockNode(context.Background(), root, host.RealClock{}, "nodeagent restore", 1500*time.Millisecond, func(s string) { said = append(said, s) })
	if !errors.Is(err, ErrLocked) || len(said) != 1 || !strings.Contains(said[0], "nodeagent.service (pid ") {
		t.Errorf("while the daemon works: err = %v, said %q; want ErrLocked, said once, naming the daemon", err, said)
	}
	daemon.Unlock()

	unlock, err := LockNode(context.Background(), root, host.RealClock{}, "nodeagent restore", time.Second, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.tryLock("nodeagent.service"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "nodeagent restore (pid ") {
		t.Errorf("the daemon while restore holds the lock: err = %v, want ErrLocked naming restore", err)
	}
	unlock()
	l, err := a.tryLock("nodeagent.service")
	if err != nil {
		t.Errorf("after restore released the lock: %v", err)
	} else {
		l.Unlock()
	}
}
