package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	snapshotv3 "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// snapshotRequest is the body `k3s etcd-snapshot` POSTs to /db/snapshot,
// with the field names of k3s's pkg/etcd/snapshot_handler.go
// (SnapshotRequest); the stand-in reads the operation and the name only.
type snapshotRequest struct {
	Operation string   `json:"operation"`
	Name      []string `json:"name,omitempty"`
}

// snapshotResult is the answer to a save, as k3s's managed.SnapshotResult:
// the snapshots created and the ones the retention pruned.
type snapshotResult struct {
	Created []string `json:"created,omitempty"`
	Deleted []string `json:"deleted,omitempty"`
}

// snapshotList answers a list: local snapshot files in the shape of k3s's
// ETCDSnapshotFileList (only the fields the CLI prints).
type snapshotList struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Items      []snapshotListItem `json:"items"`
}

type snapshotListItem struct {
	Spec struct {
		SnapshotName string `json:"snapshotName"`
		NodeName     string `json:"nodeName"`
		Location     string `json:"location"`
	} `json:"spec"`
	Status struct {
		Size         int64     `json:"size"`
		CreationTime time.Time `json:"creationTime"`
	} `json:"status"`
}

// snapshotter takes etcd snapshots of the local member for this server, as
// k3s's ETCD.Snapshot (pkg/etcd/snapshot.go).
type snapshotter struct {
	s  *server
	mu sync.Mutex // k3s's snapshotMu: one save at a time
}

// snapshotDir is k3s's snapshotDir: etcd-snapshot-dir or
// <data-dir>/server/db/snapshots; only the default one is created, a
// configured one must exist.
func (sn *snapshotter) snapshotDir(create bool) (string, error) {
	def := sn.s.paths.snapshots
	dir := def
	if sn.s.cfg.EtcdSnapshotDir != "" {
		dir = sn.s.paths.rooted(sn.s.cfg.EtcdSnapshotDir)
	}
	if dir != def {
		create = false
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && create {
			return dir, os.MkdirAll(dir, 0o700)
		}
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}

// save writes <name>-<node-name>-<unix seconds> into the snapshot dir with
// etcd's own snapshot code, which streams into "<file>.part", fsyncs it and
// renames it to its final name: a file under its final name is always
// complete. Then the local retention is applied to that name prefix.
func (sn *snapshotter) save(ctx context.Context, name string) (*snapshotResult, error) {
	if !sn.mu.TryLock() {
		return nil, errors.New("snapshot save already in progress")
	}
	defer sn.mu.Unlock()
	m := sn.s.member()
	if m == nil {
		return nil, errors.New("etcd datastore is not started")
	}
	log := sn.s.log.With(zap.String("component", "etcd-snapshot"))
	st, err := m.cli.Status(ctx, m.local)
	if err != nil {
		return nil, fmt.Errorf("failed to check etcd status for snapshot: %w", err)
	}
	if st.IsLearner {
		log.Warn("Unable to take snapshot: not supported for learner")
		return nil, errors.New("unable to take snapshot: not supported for learner")
	}
	dir, err := sn.snapshotDir(true)
	if err != nil {
		return nil, fmt.Errorf("failed to get etcd-snapshot-dir: %w", err)
	}
	now := time.Now().Round(time.Second)
	file := fmt.Sprintf("%s-%s-%d", name, sn.s.cfg.NodeName, now.Unix())
	path := filepath.Join(dir, file)
	log.Info("Saving etcd snapshot to " + path)
	tlsCfg, err := etcdClientTLS(sn.s.paths)
	if err != nil {
		return nil, err
	}
	cfg := clientv3.Config{Endpoints: []string{m.local}, TLS: tlsCfg, DialTimeout: 2 * time.Second,
		Logger: log.WithOptions(zap.IncreaseLevel(zapcore.WarnLevel))}
	if _, err := snapshotv3.NewV3(log).Save(ctx, cfg, path); err != nil {
		log.Error("Failed to take etcd snapshot", zap.Error(err))
		return nil, fmt.Errorf("failed to take etcd snapshot: %w", err)
	}
	res := &snapshotResult{Created: []string{file}}
	deleted, err := snapshotRetention(log, *sn.s.cfg.EtcdSnapshotRetention, name, dir)
	if err != nil {
		log.Warn("Failed to apply local snapshot retention policy", zap.Error(err))
	}
	res.Deleted = deleted
	if len(sn.s.cfg.s3Keys) > 0 {
		log.Warn("etcd-s3 is configured but the k3s stand-in does not upload snapshots to S3", zap.Strings("keys", sn.s.cfg.s3Keys))
	}
	return res, nil
}

// snapshotFileTime is k3s's reading of a snapshot's time: the number after
// the last "-" (".zip" stripped), else the file's modification time.
func snapshotFileTime(name string, fi fs.FileInfo) time.Time {
	base := strings.TrimSuffix(name, ".zip")
	if ts, err := strconv.ParseInt(base[strings.LastIndexByte(base, '-')+1:], 10, 64); err == nil {
		return time.Unix(ts, 0)
	}
	return fi.ModTime()
}

// snapshotRetention is k3s's snapshotRetention: of the files below dir whose
// name starts with prefix (the snapshot name, whatever the node), keep the
// newest retention ones and delete the others; retention < 1 keeps all.
func snapshotRetention(log *zap.Logger, retention int, prefix, dir string) ([]string, error) {
	if retention < 1 {
		return nil, nil
	}
	log.Info(fmt.Sprintf("Applying snapshot retention=%d to local snapshots with prefix %s in %s", retention, prefix, dir))
	type file struct {
		path string
		at   time.Time
	}
	var files []file
	err := filepath.Walk(dir, func(path string, fi fs.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if strings.HasPrefix(fi.Name(), prefix) {
			files = append(files, file{path: path, at: snapshotFileTime(fi.Name(), fi)})
		}
		return nil
	})
	if err != nil || len(files) <= retention {
		return nil, err
	}
	slices.SortFunc(files, func(a, b file) int { return b.at.Compare(a.at) }) // newest first
	var deleted []string
	for _, f := range files[retention:] {
		log.Info("Removing local snapshot " + f.path)
		if err := os.Remove(f.path); err != nil {
			return deleted, err
		}
		deleted = append(deleted, filepath.Base(f.path))
	}
	return deleted, nil
}

// list is k3s's listLocalSnapshots: every file below the snapshot dir.
func (sn *snapshotter) list() (*snapshotList, error) {
	dir, err := sn.snapshotDir(true)
	if err != nil {
		return nil, fmt.Errorf("failed to get etcd-snapshot-dir: %w", err)
	}
	l := &snapshotList{APIVersion: "v1", Kind: "List", Items: []snapshotListItem{}}
	err = filepath.Walk(dir, func(path string, fi fs.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		var it snapshotListItem
		it.Spec.SnapshotName = fi.Name()
		it.Spec.NodeName = sn.s.cfg.NodeName
		it.Spec.Location = "file://" + filepath.Join(dir, fi.Name())
		it.Status.Size = fi.Size()
		it.Status.CreationTime = snapshotFileTime(fi.Name(), fi)
		l.Items = append(l.Items, it)
		return nil
	})
	return l, err
}

// serveSnapshot is /db/snapshot (pkg/etcd/snapshot_handler.go): a POSTed
// snapshotRequest; save and list are supported, prune and delete answer
// 400 as an invalid operation would in k3s.
func (sn *snapshotter) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var req snapshotRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, "decoding snapshot request: "+err.Error(), http.StatusInternalServerError)
		return
	}
	switch req.Operation {
	case "save":
		name := sn.s.cfg.EtcdSnapshotName
		if len(req.Name) > 0 && req.Name[0] != "" {
			name = req.Name[0]
		}
		res, err := sn.save(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, res)
	case "list":
		l, err := sn.list()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, l)
	default:
		http.Error(w, "invalid snapshot operation (the k3s stand-in supports save and list)", http.StatusBadRequest)
	}
}

// schedule is k3s's setSnapshotFunction and cron start (ETCD.Start): unless
// etcd-disable-snapshots, a snapshot named etcd-snapshot-name (default
// "etcd-snapshot") at each etcd-snapshot-schedule-cron time, skipped while
// the previous one still runs. It stops with ctx.
func (sn *snapshotter) schedule(ctx context.Context) error {
	log := sn.s.log.With(zap.String("component", "etcd-snapshot"))
	if sn.s.cfg.EtcdDisableSnapshots {
		log.Info("ETCD snapshots are disabled")
		return nil
	}
	c := cron.New()
	job := cron.NewChain(cron.SkipIfStillRunning(cron.DiscardLogger)).Then(cron.FuncJob(func() {
		if _, err := sn.save(ctx, sn.s.cfg.EtcdSnapshotName); err != nil {
			log.Error("Failed to take scheduled snapshot", zap.Error(err))
		}
	}))
	if _, err := c.AddJob(sn.s.cfg.EtcdSnapshotCron, job); err != nil {
		return fmt.Errorf("etcd-snapshot-schedule-cron %q: %w", sn.s.cfg.EtcdSnapshotCron, err)
	}
	c.Start()
	go func() {
		<-ctx.Done()
		<-c.Stop().Done()
	}()
	return nil
}
