package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/backups"
)

// etcdBackups is the snapshot copier of the backups node, from the cluster
// file in use; ok is false on every other node.
func (a *Agent) etcdBackups() (backups.Etcd, bool) {
	return backups.ForNode(a.Root, a.cluster(), a.Node)
}

// syncEtcdBackups copies new etcd snapshots to the HDD. It never fails a
// pass: a copy that cannot be made now is made by the next snapshot event,
// disk event or resync, and the journal says why it waits.
func (a *Agent) syncEtcdBackups() {
	e, ok := a.etcdBackups()
	if !ok {
		return
	}
	res, err := e.Sync()
	switch {
	case err != nil:
		a.log.Warn("etcd snapshots not copied to the backups directory", zap.String("dir", e.CopiesDir()), zap.Error(err))
	case res.NotMounted:
		if !a.backupsWaitLogged {
			a.log.Warn("etcd snapshots not copied: the disk holding the backups directory is not mounted (nothing is written to the SD card under it)",
				zap.String("mountPoint", e.MountPoint))
			a.backupsWaitLogged = true
		}
	default:
		a.backupsWaitLogged = false
		if len(res.Copied)+len(res.Pruned) > 0 {
			a.log.Info("etcd snapshots copied to the backups directory", zap.String("dir", e.CopiesDir()),
				zap.Strings("copied", res.Copied), zap.Strings("pruned", res.Pruned))
		}
	}
}

// watchEtcdSnapshots queues a copy whenever k3s finishes a snapshot. etcd
// writes "<name>.part" and renames it, so a new complete snapshot shows as
// a Create of its final name. Until k3s has made the snapshot directory,
// its nearest existing parent is watched for it.
func watchEtcdSnapshots(ctx context.Context, q *queue, dir string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watching := ""
	watch := func() error {
		// Until it holds: a deeper level may appear before the watch on
		// its parent is in place, so look again after each Add.
		for {
			d := deepestExisting(dir)
			if d == watching {
				return nil
			}
			if err := w.Add(d); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile
				}
				return err
			}
			if watching != "" {
				_ = w.Remove(watching)
			}
			watching = d
			if d == dir {
				q.add(workBackups) // snapshots made while it was not watched
				return nil
			}
		}
	}
	if err := watch(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			switch {
			case watching != dir:
				if err := watch(); err != nil {
					return err
				}
			case ev.Has(fsnotify.Create) && !strings.HasSuffix(ev.Name, ".part"):
				q.add(workBackups)
			}
		case err := <-w.Errors:
			return err
		}
	}
}

// deepestExisting is dir or its nearest existing parent.
func deepestExisting(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}
