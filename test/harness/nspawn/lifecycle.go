package nspawn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// pollInterval is how often boot and shutdown are checked.
const pollInterval = 100 * time.Millisecond

// nspawnEnv is the environment of systemd-nspawn.
//
// SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: without it nspawn copies the host's
// hybrid cgroup layout (v1 controllers + v2 at /sys/fs/cgroup/unified)
// into the container; with it the container gets a pure cgroup v2 tree,
// which is what Debian bookworm's systemd and k3s expect and what a Pi runs.
func nspawnEnv(environ []string) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		// The test's own systemd variables must not reach the container.
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "SYSTEMD_NSPAWN_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
}

// waitLeader polls /proc until the container's PID 1 exists.
func (c *Container) waitLeader(ctx context.Context) error {
	for {
		pid, err := findLeader("/proc", c.cmd.Process.Pid)
		if err != nil {
			return err
		}
		if pid != 0 {
			c.leader = pid
			return nil
		}
		if err := c.pause(ctx); err != nil {
			return fmt.Errorf("waiting for the container's init: %w", err)
		}
	}
}

// waitRunning polls `systemctl is-system-running` inside until systemd has
// finished booting: "running", or "degraded" (some unit failed, which tests
// inspect themselves).
func (c *Container) waitRunning(ctx context.Context) error {
	var last string
	for {
		// is-system-running exits non-zero for every state but running, so
		// the output, not the error, is the answer.
		out, err := c.Exec(ctx, "systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		switch state {
		case "running", "degraded":
			return nil
		case "":
			if err != nil {
				last = err.Error()
			}
		default:
			last = state
		}
		if err := c.pause(ctx); err != nil {
			return fmt.Errorf("waiting for systemd to finish booting (last: %s): %w", last, err)
		}
	}
}

// pause waits one poll interval; it fails when ctx ends or nspawn exited.
func (c *Container) pause(ctx context.Context) error {
	select {
	case <-time.After(pollInterval):
		return nil
	case <-c.exited:
		return errors.New("systemd-nspawn exited")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop shuts the container down: SIGTERM to systemd-nspawn, which halts the
// container in order; after 20s the leader and nspawn are killed. It is
// called by t.Cleanup and safe to call earlier.
func (c *Container) Stop() {
	c.stop.Do(func() {
		if c.cmd == nil || c.cmd.Process == nil {
			return // never started
		}
		start := time.Now()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
			c.t.Logf("container %s stopped in %s", c.name, time.Since(start).Round(time.Millisecond))
			return
		case <-time.After(20 * time.Second):
		}
		c.t.Logf("container %s did not halt within 20s; killing it", c.name)
		// Killing PID 1 of a PID namespace kills every process in it.
		if c.leader != 0 {
			_ = syscall.Kill(c.leader, syscall.SIGKILL)
		}
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
}

// WaitExit waits for systemd-nspawn to exit on its own and returns its exit
// status: 133 when the container asked for a reboot (systemd-nspawn(1),
// --boot), 0 after a poweroff. Booting again is the test's business.
func (c *Container) WaitExit(ctx context.Context) (int, error) {
	select {
	case <-c.exited:
		return c.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("waiting for systemd-nspawn to exit: %w", ctx.Err())
	}
}
