package nspawn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// containerEnv is the whole environment of commands run by Exec: nothing of
// the test process (its NOTIFY_SOCKET, GOFLAGS, ...) leaks in.
var containerEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"SYSTEMD_PAGER=",
	"SYSTEMD_COLORS=0",
}

// Exec runs args inside the container (all its namespaces, its root) and
// returns stdout; the error carries stderr. --register=no leaves no machine
// for `systemd-run --machine`, so this enters with nsenter.
//
// A container that is no longer running is refused: its leader's PID may
// belong to another process by now, and nsenter would run args there.
func (c *Container) Exec(ctx context.Context, args ...string) (string, error) {
	if !c.Running() {
		return "", fmt.Errorf("running %q in container %s: %w", strings.Join(args, " "), c.name, ErrStopped)
	}
	argv := append([]string{"-t", strconv.Itoa(c.leader), "-a", "--", "env", "-i"}, containerEnv...)
	argv = append(argv, args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	// A command that leaves children holding the pipes (a shell in the
	// container) must not block Wait past ctx.
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("running %q in container %s: %w: %s",
			strings.Join(args, " "), c.name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ErrStopped means the container is not running (stopped, or halted by
// itself).
var ErrStopped = errors.New("the container is not running")

// CopyIn copies the host file src to dst inside the container, keeping its
// permission bits; parent directories are created.
func (c *Container) CopyIn(src, dst string) error {
	if !c.Running() {
		return fmt.Errorf("copying %s into container %s: %w", src, c.name, ErrStopped)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying %s into container: %w", src, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("copying %s into container: %w", src, err)
	}
	target := c.Path(dst)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("copying %s into container: %w", src, err)
	}
	if err := os.WriteFile(target, data, st.Mode().Perm()); err != nil {
		return fmt.Errorf("copying %s to %s in container: %w", src, dst, err)
	}
	// WriteFile keeps the mode of an existing file; make it match src.
	if err := os.Chmod(target, st.Mode().Perm()); err != nil {
		return fmt.Errorf("copying %s to %s in container: %w", src, dst, err)
	}
	return nil
}

// Journal returns the container's journal of this boot (last 400 lines).
func (c *Container) Journal(ctx context.Context) (string, error) {
	return c.Exec(ctx, "journalctl", "-b", "-n", "400", "--no-pager", "-q")
}

// dumpLogs writes the container's journal and console to the test log.
func (c *Container) dumpLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	journal, err := c.Journal(ctx)
	if err != nil {
		c.t.Logf("container %s: reading journal: %v", c.name, err)
	}
	c.t.Logf("container %s journal:\n%s\nconsole (last 60 lines):\n%s",
		c.name, journal, lastLines(c.console.String(), 60))
}

// syncBuffer collects nspawn's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
