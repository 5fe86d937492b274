package agent

import (
	"context"
	"fmt"
	"path"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// StepSealedKeys keeps the sealed-secrets keys on the backups disk.
const StepSealedKeys = "sealedkeys"

// SealedKeysWork is the server work of the backups node's sealedkeys step:
// put the saved sealed-secrets keys back into a cluster that holds none of
// them, record the check, save the cluster's keys to the backups disk
// (serverwork.Work in process, `nodeagent sealed-keys` under the daemon).
// It is an interface of its own beside ServerWork, which every server's
// work implements, as only the backups node needs it.
type SealedKeysWork interface {
	KeepSealedKeys(ctx context.Context, status func(string)) error
}

// sealedKeysStep runs on the backups node, after quorum and before the
// manifests: the keys of a rebuilt cluster are back before this node's
// apply installs sealed-secrets (other servers' applies wait for the
// check: serverwork's sealed-secrets gate). It runs in every full pass (at
// start, on a change, every resync: 10 minutes), which is how a new or
// renewed key reaches the disk: the controller makes keys on its own
// schedule (a new one every 30 days by default), and watching them would
// keep client-go resident in the daemon.
type sealedKeysStep struct{ a *Agent }

func (sealedKeysStep) Name() string { return StepSealedKeys }

func (s sealedKeysStep) Applies() bool {
	c := s.a.cluster()
	return s.a.Node.Role == config.RoleServer && c.Backups.Enabled() && c.Backups.Node == s.a.Node.Name &&
		c.Platform.SealedSecrets.IsEnabled()
}

// Apply does not fail the pass: a backups disk that is missing or failing
// must not keep this server from applying the manifests. The failure is
// logged, shown in STATUS and in `nodeagent status` (the child's record),
// and the next pass tries again.
func (s sealedKeysStep) Apply(ctx context.Context) error {
	w, ok := s.a.server.(SealedKeysWork)
	if !ok {
		return errNoServerWork
	}
	if err := w.KeepSealedKeys(ctx, s.a.Reporter.Status); err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.a.log.Error("sealed-secrets keys not kept: the next pass tries again", zap.Error(err))
		s.a.Reporter.Status("sealed-secrets keys not kept: " + err.Error())
	}
	return nil
}

func (s sealedKeysStep) Plan(context.Context, bool) (plan.Step, error) {
	b := s.a.cluster().Backups
	return plan.Step{Name: StepSealedKeys, Summary: fmt.Sprintf(
		"while the disk of %s is mounted: put the saved sealed-secrets keys back if the cluster holds none of them, record the check (ConfigMap kube-system/nodeagent-sealed-keys), save the keys to %s",
		b.Dir, path.Join(b.Dir, "sealed-secrets-keys"))}, nil
}

// Status reads the record of the last check on this node.
func (s sealedKeysStep) Status(_ context.Context, r *StatusReport) error {
	if !s.Applies() {
		return nil
	}
	rec, err := child.LoadSealedKeysRecord(s.a.Root)
	r.SealedKeys = rec
	return err
}
