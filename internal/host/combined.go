package host

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"
)

// RunCombined runs the command like Run, but returns what it printed on
// stdout and stderr together, also when it succeeds: for a program that
// says on stderr whether it did its job (k3s logs there, and
// `k3s server --cluster-reset` exits 0 after its message).
func (r *ExecRunner) RunCombined(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if r.Env != nil {
		cmd.Env = r.Env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	argv := QuoteArgv(name, args)
	start := time.Now()
	r.Log.Info("running command", zap.String("argv", argv))
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		msg := strings.TrimSpace(out.String())
		r.Log.Warn("command failed", zap.String("argv", argv), zap.Duration("elapsed", elapsed), zap.Error(err))
		return out.Bytes(), &CommandError{Argv: argv, Stderr: lastLines(msg, 20), Err: err}
	}
	r.Log.Info("command done", zap.String("argv", argv), zap.Duration("elapsed", elapsed))
	return out.Bytes(), nil
}

// lastLines keeps the end of a long output, where a program says why it failed.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[len(lines)-n:], "\n")
}
