package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Platform is a server's last two phases: the quorum gate and the manifests.
// They need client-go's typed clientset and the etcd v3 client, which the
// resident daemon does not link: `nodeagent join` runs them in process
// (internal/platform), the daemon in a child process (CommandPlatform).
type Platform interface {
	// WaitQuorum returns once etcd has quorum, telling status what it waits for.
	WaitQuorum(ctx context.Context, status func(string)) error
	// ApplyManifests applies the cluster's manifests as the apply lease holder.
	ApplyManifests(ctx context.Context, status func(string)) error
	Close() error
}

var errNoPlatform = errors.New("this build runs no quorum or manifests phase (no platform wired)")

// CommandPlatform runs the platform phases as `nodeagent quorum --wait` and
// `nodeagent apply` children of the daemon. Each call costs one process
// start, on a join or a resync, never on a hotplug; in exchange the daemon's
// idle footprint holds none of what those phases link.
type CommandPlatform struct {
	// CLI is the full nodeagent binary.
	CLI string
	// Args name the cluster file, the node, the root and the log level.
	Args []string
	// Env is the children's environment, without systemd's notify variables:
	// only the daemon talks to systemd.
	Env []string
}

// WaitQuorum runs `nodeagent quorum --wait`.
func (p *CommandPlatform) WaitQuorum(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "quorum", "--wait")
}

// ApplyManifests runs `nodeagent apply`.
func (p *CommandPlatform) ApplyManifests(ctx context.Context, status func(string)) error {
	return p.run(ctx, status, "apply")
}

// Close has nothing to release: each child exits when its phase is done.
func (p *CommandPlatform) Close() error { return nil }

// childStopGrace is how long a child has to end after SIGTERM.
const childStopGrace = 15 * time.Second

func (p *CommandPlatform) run(ctx context.Context, status func(string), sub ...string) error {
	name := "nodeagent " + strings.Join(sub, " ")
	args := append(append(append([]string{}, sub...), p.Args...), "--report", ReportLines)
	cmd := exec.CommandContext(ctx, p.CLI, args...)
	cmd.Env = p.Env
	// The child logs to the daemon's stderr: the same journal stream, so its
	// entries keep their structured fields.
	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childStopGrace
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	failure := ReadReport(out, status)
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

// ReportLines is the --report format of the platform commands when the
// daemon runs them: one "status <text>" line per progress report, and an
// "error <text>" line before a failing exit.
const ReportLines = "lines"

// WriteStatusLine writes one progress report in the ReportLines format.
func WriteStatusLine(w io.Writer, text string) { writeReportLine(w, "status", text) }

// WriteErrorLine writes the error a platform command fails with.
func WriteErrorLine(w io.Writer, err error) { writeReportLine(w, "error", err.Error()) }

func writeReportLine(w io.Writer, kind, text string) {
	fmt.Fprintf(w, "%s %s\n", kind, strings.ReplaceAll(text, "\n", "; "))
}

// ReadReport passes each status line to status until r ends and returns the
// text of the error line, if any.
func ReadReport(r io.Reader, status func(string)) (failure string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, text, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "status":
			status(text)
		case "error":
			failure = text
		}
	}
	return failure
}
