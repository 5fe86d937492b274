package serverwork

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// ErrNotBackupsNode refuses `nodeagent sealed-keys` on a node other than
// backups.node: only that node has the backups disk.
var ErrNotBackupsNode = errors.New("this node is not the cluster file's backups.node")

// ErrBackupsNotMounted is a backups disk that is not mounted: writing to
// its mount point would write to the SD card, and reading it finds no keys.
var ErrBackupsNotMounted = errors.New("the backups disk is not mounted")

// SealedKeysResult is what `nodeagent sealed-keys` did (names only).
type SealedKeysResult struct {
	Saved   SaveResult
	PutBack PutBackResult
}

// SealedKeys runs on the backups node: it puts the saved sealed-secrets
// keys back if the cluster holds none of them, records the check (the
// marker the apply's sealed-secrets gate waits for), then saves the
// cluster's keys to the backups disk. The put-back comes first: a key the
// controller of a rebuilt cluster made before the check must not count as
// "the cluster holds a saved key".
func (p *Work) SealedKeys(ctx context.Context, status func(string)) (SealedKeysResult, error) {
	var res SealedKeysResult
	if !p.cfg.Cluster.Platform.SealedSecrets.IsEnabled() {
		status("sealed-secrets is not enabled: no keys to keep")
		return res, nil
	}
	store, err := p.keyStore()
	if err != nil {
		return res, err
	}
	ns := p.cfg.Cluster.Platform.SealedSecrets.Namespace
	client, err := p.clientset()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	saved, err := store.Load()
	if err != nil {
		return res, err
	}
	live, err := ListKeys(ctx, client, ns)
	if err != nil {
		return res, err
	}
	status(fmt.Sprintf("checking %d saved sealed-secrets keys against %d in the cluster", len(saved), len(live)))
	now := p.cfg.Clock.Now()
	res.PutBack, err = PutBack(ctx, client, saved, live, ns, now, p.log)
	if err != nil {
		return res, err
	}
	if err := writeMarker(ctx, client, p.cfg.Node.Name, now, len(saved), res.PutBack); err != nil {
		return res, err
	}
	if len(res.PutBack.Created) > 0 {
		if live, err = ListKeys(ctx, client, ns); err != nil {
			return res, err
		}
	}
	res.Saved, err = store.Save(live, p.log)
	if err != nil {
		return res, err
	}
	p.log.Info("sealed-secrets keys checked", zap.Int("inCluster", len(live)), zap.Int("written", len(res.Saved.Written)),
		zap.Int("putBack", len(res.PutBack.Created)), zap.Bool("controllerRestarted", res.PutBack.Restarted))
	return res, nil
}

// keyStore is the key directory on the backups disk, once this node is the
// backups node and that disk is mounted (the kernel's mount table says so,
// not the directory's existence).
func (p *Work) keyStore() (KeyStore, error) {
	b := p.cfg.Cluster.Backups
	if !b.Enabled() || b.Node != p.cfg.Node.Name {
		return KeyStore{}, fmt.Errorf("sealed-secrets keys: %w (backups.node is %q)", ErrNotBackupsNode, b.Node)
	}
	d, ok := p.cfg.Node.DiskHolding(b.Dir)
	if !ok {
		return KeyStore{}, fmt.Errorf("sealed-secrets keys: %s is on no disk of %s", b.Dir, p.cfg.Node.Name)
	}
	mounts, err := disk.ReadMounts(p.cfg.Root)
	if err != nil {
		return KeyStore{}, err
	}
	if _, ok := disk.At(mounts, path.Clean(d.MountPoint)); !ok {
		return KeyStore{}, fmt.Errorf("sealed-secrets keys: %w: nothing at %s", ErrBackupsNotMounted, d.MountPoint)
	}
	return KeyStore{Dir: p.cfg.Root.Path(path.Join(b.Dir, SealedKeysDir))}, nil
}

// KeepSealedKeys is SealedKeys for the daemon's sealed-keys step (in
// process under `nodeagent join`, as a child under the daemon).
// It records the outcome for `nodeagent status`.
func (p *Work) KeepSealedKeys(ctx context.Context, status func(string)) error {
	res, err := p.SealedKeys(ctx, status)
	rec := child.SealedKeysRecord{
		At: p.cfg.Clock.Now().UTC(), Dir: path.Join(p.cfg.Cluster.Backups.Dir, SealedKeysDir),
		InCluster: len(res.Saved.Written) + len(res.Saved.Unchanged), Written: res.Saved.Written,
		PutBack: res.PutBack.Created, Restarted: res.PutBack.Restarted, Missing: res.PutBack.Missing,
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if serr := child.SaveSealedKeysRecord(p.cfg.Root, rec); serr != nil {
		p.log.Warn("cannot record the sealed-secrets keys check", zap.Error(serr))
	}
	return err
}
