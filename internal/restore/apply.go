package restore

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// CombinedRunner runs a command and returns stdout and stderr together,
// also on success (host.ExecRunner.RunCombined).
type CombinedRunner interface {
	host.Runner
	RunCombined(ctx context.Context, name string, args ...string) ([]byte, error)
}

// Restorer restores this server's etcd from a snapshot, as k3s documents
// it: k3s stopped, `k3s server --cluster-reset
// --cluster-reset-restore-path=FILE` until it says it is done, k3s started.
type Restorer struct {
	// Root resolves the snapshot's path for k3s, which runs on the real
	// filesystem.
	Root host.Root
	Run  CombinedRunner
	Log  *zap.Logger
	// Binary is the installed k3s (release.BinaryPath on the host).
	Binary string
	// Unit is k3s's unit (k3s.service).
	Unit string
	// Record waits for the restored etcd and its API and records the
	// restore there (serverwork.Work.RecordRestore, or its child).
	Record func(ctx context.Context, status func(string)) error
}

// Restore runs the stages, each said to status and logged. The caller
// holds the node's lock, so the daemon does not start k3s meanwhile.
// A failed reset leaves k3s stopped and says so: k3s moved the data it
// had aside itself (pkg/etcd/etcd.go Restore: server/db/etcd-old-<time>).
func (r *Restorer) Restore(ctx context.Context, s Snapshot, status func(string)) error {
	say := func(stage, text string) {
		r.Log.Info("restore", zap.String("stage", stage), zap.String("snapshot", s.Path), zap.String("detail", text))
		status(text)
	}
	say("stop", "stopping "+r.Unit)
	if _, err := r.Run.Run(ctx, "systemctl", "stop", r.Unit); err != nil {
		return fmt.Errorf("stopping %s: %w", r.Unit, err)
	}
	args := ResetArgs(r.Root.Path(s.Path))
	say("reset", "resetting etcd to this server alone with the data of "+s.Path+" ("+r.Binary+" "+strings.Join(args, " ")+")")
	out, err := r.Run.RunCombined(ctx, r.Binary, args...)
	if err != nil {
		return fmt.Errorf("k3s cluster reset with %s failed, k3s stays stopped (the daemon starts it again on its next pass): %w", s.Path, err)
	}
	if !ResetDone(string(out)) {
		return fmt.Errorf("k3s cluster reset with %s exited without saying %q; k3s stays stopped; its last lines: %s",
			s.Path, ResetDoneMessage, tail(string(out), 10))
	}
	say("start", "etcd reset from "+s.Path+"; starting "+r.Unit)
	if _, err := r.Run.Run(ctx, "systemctl", "start", r.Unit); err != nil {
		return fmt.Errorf("starting %s after the reset: %w", r.Unit, err)
	}
	say("record", r.Unit+" is active; waiting for etcd and the API to record the restore")
	if err := r.Record(ctx, status); err != nil {
		return fmt.Errorf("etcd restored from %s, but the restore is not recorded, so the other servers will not rejoin by themselves (run `nodeagent restore-record %s` again, or move their %s aside by hand): %w",
			s.Path, s.Path, DBDir, err)
	}
	say("done", "restored from "+s.Path+"; the other servers rejoin by themselves once their daemons see the record")
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
