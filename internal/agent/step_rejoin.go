package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// rejoinRestored runs, on a server that is an etcd member, the check for a
// restore on another server without it (`nodeagent restore`). It comes
// before the join is decided: a server that moved its data aside and
// rejoined through the restored server then keeps that config.yaml. Once
// this server is an etcd member again, a pending rejoin is done.
//
// A failed check does not stop the k3s phase: a healthy server must not
// be held up by it, and a rejoin that failed half-way is finished by the
// phase itself (followRejoin, then Ensure starts k3s).
func (s k3sStep) rejoinRestored(ctx context.Context) error {
	a := s.a
	if !s.checksForRestore() {
		return nil
	}
	if err := os.Remove(a.Root.Path(restore.RejoinPendingPath)); err == nil {
		a.log.Info("rejoined the restored cluster")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := a.server.RejoinRestored(ctx, a.Reporter.Status); err != nil {
		if ctx.Err() != nil {
			return err
		}
		a.log.Warn("checking for an etcd restore on another server failed; going on", zap.Error(err))
	}
	return nil
}

// restoreRecheckEvery is how often the restore check runs again while
// Ensure waits for k3s.
const restoreRecheckEvery = 30 * time.Second

// ensureCheckingForRestore is Ensure, with the restore check repeated while
// it waits. The last server of a cluster restored elsewhere has no quorum
// once the others have rejoined: its k3s never becomes ready, so Ensure's
// start would wait for ever, and the check before it may have run while
// k3s was down (its etcd silent). Once k3s's etcd answers (it does without
// quorum), the check sees the restore and rejoins, which ends the wait.
func (s k3sStep) ensureCheckingForRestore(ctx context.Context, j k3s.Join) (k3s.EnsureResult, error) {
	a := s.a
	if !s.checksForRestore() {
		return a.k3s.Ensure(ctx, j)
	}
	checkCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := a.Clock.NewTicker(restoreRecheckEvery)
		defer tick.Stop()
		for {
			select {
			case <-checkCtx.Done():
				return
			case <-tick.C():
			}
			if err := a.server.RejoinRestored(checkCtx, a.Reporter.Status); err != nil && checkCtx.Err() == nil {
				a.log.Warn("checking for an etcd restore on another server failed; going on", zap.Error(err))
			}
		}
	}()
	res, err := a.k3s.Ensure(ctx, j)
	stop()
	<-done
	return res, err
}

// checksForRestore: a server that is an etcd member of a cluster of more
// than one server could have been left out of a restore elsewhere.
func (s k3sStep) checksForRestore() bool {
	a := s.a
	return a.server != nil && a.Node.Role == config.RoleServer && len(a.File.Cluster.Servers()) >= 2 && k3s.IsEtcdMember(a.Root)
}

// followRejoin makes a server that moved its data aside to rejoin a
// restored cluster, and has not joined yet (a pass interrupted between the
// move and k3s's join), join through the restored server it chose: asked
// anew, it might pick a server still on the old cluster. knownCA is the
// cluster CA recorded at this server's last join, which a restore keeps:
// the stale-member check before the join verifies the server with it.
func (s k3sStep) followRejoin(d k3s.JoinDecision, knownCA string) k3s.JoinDecision {
	a := s.a
	if a.Node.Role != config.RoleServer || d.Kept || knownCA == "" || k3s.IsEtcdMember(a.Root) {
		return d
	}
	data, err := os.ReadFile(a.Root.Path(restore.RejoinPendingPath))
	via := strings.TrimSpace(string(data))
	if err != nil || via == "" {
		return d
	}
	a.log.Info("joining through the restored server chosen before the data moved aside", zap.String("server", via), zap.String("instead_of", d.Server))
	return k3s.JoinDecision{Join: k3s.Join{Server: via}, Via: via, CAHash: knownCA, Reason: "rejoining the restored cluster through " + via}
}
