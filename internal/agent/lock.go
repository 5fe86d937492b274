package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// LockPath is the lock that keeps one nodeagent at a time working on the
// node: `nodeagent join` by hand and the service would otherwise run the
// same phases at once. It holds the holder's pid and name.
const LockPath = "/run/nodeagent.lock"

// ErrLocked means another nodeagent is working on this node.
var ErrLocked = errors.New("another nodeagent is working on this node")

// nodeLock is a held lock; Unlock releases it.
type nodeLock struct{ f *os.File }

func (l nodeLock) Unlock() { _ = l.f.Close() }

// tryLock takes the node's lock for who, or returns ErrLocked naming the
// holder.
func (a *Agent) tryLock(who string) (nodeLock, error) {
	path := a.Root.Path(LockPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nodeLock{}, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nodeLock{}, fmt.Errorf("opening %s: %w", LockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nodeLock{}, fmt.Errorf("%w: %s holds %s", ErrLocked, describeHolder(string(holder)), LockPath)
		}
		return nodeLock{}, fmt.Errorf("locking %s: %w", LockPath, err)
	}
	// Who holds it, for the one that waits (the file is not removed on
	// unlock: removing it would race with the next locker).
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), who)), 0)
	}
	return nodeLock{f: f}, nil
}

// lockWaiting takes the lock, polling while someone else holds it and
// saying so; each poll counts as progress (the watchdog must not kill a
// daemon that waits for a `nodeagent join` by hand).
func (a *Agent) lockWaiting(ctx context.Context, who string) (nodeLock, error) {
	said := ""
	for {
		l, err := a.tryLock(who)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		if msg := "waiting: " + err.Error(); msg != said {
			a.Reporter.Status(msg)
			said = msg
		}
		host.Progress(ctx)
		t := a.Clock.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nodeLock{}, ctx.Err()
		case <-t.C():
		}
	}
}

// describeHolder turns the lock file's "pid name" into "nodeagent join (pid 42)".
func describeHolder(content string) string {
	pid, who, ok := strings.Cut(strings.TrimSpace(content), " ")
	if _, err := strconv.Atoi(pid); !ok || err != nil {
		return "another nodeagent"
	}
	return who + " (pid " + pid + ")"
}
