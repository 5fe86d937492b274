package host

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Runner runs external commands. Every exec of nodeagent goes through one,
// so each is logged and a fake can stand in for unit tests.
type Runner interface {
	// Run runs name with args and returns its stdout; on failure the error
	// carries the quoted command line and stderr.
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands on the host.
type ExecRunner struct {
	Log *zap.Logger
	// Env, when set, replaces the environment of commands (NOTIFY_SOCKET
	// and other systemd variables must not leak to children).
	Env []string
}

// NewExecRunner returns a Runner that logs to log.
func NewExecRunner(log *zap.Logger) *ExecRunner {
	return &ExecRunner{Log: log.With(zap.String("component", "exec"))}
}

// Run executes the command, logging start, end and failures.
func (r *ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if r.Env != nil {
		cmd.Env = r.Env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	argv := QuoteArgv(name, args)
	start := time.Now()
	r.Log.Debug("running command", zap.String("argv", argv))
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		r.Log.Warn("command failed", zap.String("argv", argv), zap.Duration("elapsed", elapsed),
			zap.String("stderr", msg), zap.Error(err))
		return stdout.Bytes(), &CommandError{Argv: argv, Stderr: msg, Err: err}
	}
	r.Log.Debug("command done", zap.String("argv", argv), zap.Duration("elapsed", elapsed))
	return stdout.Bytes(), nil
}

// CommandError is a failed command with what it printed on stderr.
type CommandError struct {
	Argv   string
	Stderr string
	Err    error
}

func (e *CommandError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s: %v", e.Argv, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Argv, e.Err, e.Stderr)
}

func (e *CommandError) Unwrap() error { return e.Err }

// QuoteArgv renders a command line for logs, quoting arguments that need it.
func QuoteArgv(name string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	for _, a := range append([]string{name}, args...) {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
