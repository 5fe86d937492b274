// Package child is the daemon's side of the server work: it runs
// `nodeagent quorum --wait`, `nodeagent apply`, `nodeagent restart-turn`,
// `nodeagent stale-member`, `nodeagent sealed-keys` and others as children (Command) and reads the progress
// they report in a line protocol (ReportLines) that those commands write.
// It links no client-go clientset and no etcd client, so the resident
// daemon can use it (test/deps checks).
package child

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/logging"
)

// Command runs the server work as `nodeagent quorum --wait`,
// `nodeagent apply` and `nodeagent restart-turn` children of the daemon.
// Each call costs one process start, on a join, a resync or a k3s restart,
// never on a hotplug; in exchange the daemon's idle footprint holds none of
// what they link.
type Command struct {
	// CLI is the full nodeagent binary.
	CLI string
	// Args name the cluster file, the node, the root and the log level.
	Args []string
	// Env is the children's environment, without systemd's notify variables:
	// only the daemon talks to systemd.
	Env []string
	// Log receives the children's log entries (logging.Relay).
	Log *zap.Logger
}

// WaitQuorum runs `nodeagent quorum --wait`.
func (p *Command) WaitQuorum(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "quorum", "--wait")
}

// ApplyManifests runs `nodeagent apply`.
func (p *Command) ApplyManifests(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "apply")
}

// ClaimRestart runs `nodeagent restart-turn claim [--version V]`.
func (p *Command) ClaimRestart(ctx context.Context, version string, status func(string)) error {
	return p.run(ctx, status, withVersion([]string{"restart-turn", "claim"}, version)...)
}

// ReleaseRestart runs `nodeagent restart-turn release [--version V]`.
func (p *Command) ReleaseRestart(ctx context.Context, version string, status func(string)) error {
	return p.run(ctx, status, withVersion([]string{"restart-turn", "release"}, version)...)
}

// FailRestart runs `nodeagent restart-turn fail --version V --reason R`.
func (p *Command) FailRestart(ctx context.Context, version, reason string, status func(string)) error {
	return p.run(ctx, status, "restart-turn", "fail", "--version", version, "--reason", reason)
}

func withVersion(args []string, version string) []string {
	if version == "" {
		return args
	}
	return append(args, "--version", version)
}

// ReplaceStaleMember runs `nodeagent stale-member --via URL --ca HASH`. The
// child reads the token from the token file itself: it is never passed in
// argv or the environment.
func (p *Command) ReplaceStaleMember(ctx context.Context, via, caHash string, status func(string)) error {
	return p.run(ctx, status, "stale-member", "--via", via, "--ca", caHash)
}

// KeepSealedKeys runs `nodeagent sealed-keys` (the backups node only): the
// child reads and writes the keys; none passes through the daemon.
func (p *Command) KeepSealedKeys(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "sealed-keys")
}

// RejoinRestored runs `nodeagent restore-rejoin`: the check, on a server
// that is an etcd member, for a restore on another server without it.
func (p *Command) RejoinRestored(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "restore-rejoin")
}

// RemoveLeftAgent runs `nodeagent remove-left-agent NAME`: the Node of an
// agent that asked to leave.
func (p *Command) RemoveLeftAgent(ctx context.Context, name string, status func(string)) error {
	return p.run(ctx, status, "remove-left-agent", name)
}

// Close has nothing to release: each child exits when its phase is done.
func (p *Command) Close() error { return nil }

// childStopGrace is how long a child has to end after SIGTERM.
const childStopGrace = 15 * time.Second

func (p *Command) run(ctx context.Context, status func(string), sub ...string) error {
	name := "nodeagent " + strings.Join(sub, " ")
	args := append(append(append([]string{}, sub...), p.Args...), "--report", ReportLines)
	cmd := exec.CommandContext(ctx, p.CLI, args...)
	// The child logs JSON lines to a pipe and the daemon logs them again:
	// journald loses the unit of an entry whose sender already exited.
	cmd.Env = p.Env
	cmd.Env = append(cmd.Environ(), logging.ChildEnv)
	relay := logging.NewRelay(p.Log, zap.String("child", sub[0]))
	defer relay.Close()
	cmd.Stderr = relay
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childStopGrace
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	// Every line is the child's sign of life for the daemon's watchdog.
	failure := ReadReport(out, status, func() { host.Progress(ctx) })
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && failure != "":
		return fmt.Errorf("%s: %s", name, failure)
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// ReportLines is the --report format of the server-work commands when the
// daemon runs them: one "status <text>" line per progress report, a
// "progress" line when a wait polled without news (at most one a second),
// and an "error <text>" line before a failing exit.
const ReportLines = "lines"

// ProgressLines returns the host.Progress mark of a child reporting in
// ReportLines to w: a poll that came back is a "progress" line, so the
// daemon's watchdog sees a long wait alive (issue #22, item 2).
func ProgressLines(w io.Writer, clock host.Clock) func() {
	var mu sync.Mutex
	var last time.Time
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if now := clock.Now(); now.Sub(last) >= time.Second {
			last = now
			fmt.Fprintln(w, "progress")
		}
	}
}

// WriteStatusLine writes one progress report in the ReportLines format.
func WriteStatusLine(w io.Writer, text string) { writeReportLine(w, "status", text) }

// WriteErrorLine writes the error a server-work command fails with.
func WriteErrorLine(w io.Writer, err error) { writeReportLine(w, "error", err.Error()) }

func writeReportLine(w io.Writer, kind, text string) {
	fmt.Fprintf(w, "%s %s\n", kind, strings.ReplaceAll(text, "\n", "; "))
}

// maxReportLine bounds what ReadReport keeps of one report line; the rest
// of a longer line (a long error) is dropped and marked, and reading goes
// on, so the child never blocks on a full pipe (issue #22, item 10).
const maxReportLine = 64 << 10

// truncatedMark ends a report line that was cut at maxReportLine.
const truncatedMark = " [truncated]"

// ReadReport passes each status line to status until r ends and returns the
// text of the error line, if any; alive hears every line. It reads r to its
// end whatever the lines hold: a child whose output is not read blocks on
// the full pipe.
func ReadReport(r io.Reader, status func(string), alive func()) (failure string) {
	br := bufio.NewReader(r)
	for {
		line, err := readReportLine(br)
		if line != "" {
			alive()
		}
		kind, text, _ := strings.Cut(line, " ")
		switch kind {
		case "status":
			status(text)
		case "error":
			failure = text
		}
		if err != nil {
			return failure
		}
	}
}

// readReportLine returns the next line without its newline, cut to
// maxReportLine and marked when it was longer.
func readReportLine(br *bufio.Reader) (string, error) {
	var line []byte
	long := false
	for {
		part, err := br.ReadSlice('\n')
		part = bytes.TrimSuffix(part, []byte{'\n'})
		if room := maxReportLine - len(line); len(part) > room {
			part, long = part[:room], true
		}
		line = append(line, part...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if long {
			return string(line) + truncatedMark, err
		}
		return string(line), err
	}
}
