package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	snapshotv3 "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// resetDoneMessage is what k3s logs when a cluster reset has finished
// (pkg/etcd/etcd.go Reset), just before it exits 0.
const resetDoneMessage = "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. " +
	"Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes"

// clusterReset is `k3s server --cluster-reset [--cluster-reset-restore-path
// PATH]`, following k3s's cluster.start (pkg/cluster/managed.go) and
// ETCD.Reset/Restore (pkg/etcd/etcd.go):
//   - a reset-flag file without a restore path refuses ("previously reset");
//   - server/tls is copied to server/tls-<unix> (pkg/cluster/bootstrap.go,
//     "Cluster reset: backing up certificates directory");
//   - with a restore path: it must exist and be a file; server/db/etcd is
//     moved to server/db/etcd-old-<unix> and the snapshot is restored there
//     with etcd's own restore code as a one-member cluster of this member's
//     name and peer URL (a new cluster ID: no initial-cluster token, as k3s);
//   - a new member name is written, then server/db/reset-flag;
//   - etcd starts with force-new-cluster on the local address only, and once
//     the local member passes Test and is the only member under its new name,
//     etcd stops, the message is logged, and the process exits 0.
//
// A data dir without etcd data is refused: k3s would start a new cluster
// (or restore a snapshot onto a new node, taking its CAs from the
// datastore's bootstrap data, which the stand-in does not keep).
func (s *server) clusterReset(ctx context.Context, restorePath string) error {
	if !hasEtcdData(s.paths) {
		return fmt.Errorf("no etcd data in %s: the k3s stand-in resets only a server that has run etcd", s.paths.etcdData)
	}
	_, err := os.Stat(s.paths.resetFlag)
	resetDone := err == nil
	if restorePath == "" && resetDone {
		return fmt.Errorf("Managed etcd cluster membership was previously reset, please remove the cluster-reset flag and start k3s normally. "+
			"If you need to perform another cluster reset, you must first manually delete the file at %s", s.paths.resetFlag)
	}
	name, err := memberName(s.paths, s.cfg.NodeName)
	if err != nil {
		return err
	}
	backup := s.paths.tls + "-" + strconv.FormatInt(time.Now().Unix(), 10)
	s.log.Info("Cluster reset: backing up certificates directory to " + backup)
	if err := copyDir(s.paths.tls, backup); err != nil {
		return fmt.Errorf("cluster reset failed to back up server TLS dir: %w", err)
	}
	peer := "https://" + net.JoinHostPort(s.cfg.NodeIP, "2380")
	if restorePath != "" {
		fi, err := os.Stat(restorePath)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("etcd: snapshot path does not exist: %s", restorePath)
		}
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("etcd: snapshot path must be a file, not a directory: %s", restorePath)
		}
		old := s.paths.etcdData + "-old-" + strconv.FormatInt(time.Now().Unix(), 10)
		if err := os.Rename(s.paths.etcdData, old); err != nil {
			return err
		}
		s.log.Info("Pre-restore etcd database moved to " + old)
		err = snapshotv3.NewV3(s.log.With(zap.String("component", "etcd-restore"))).Restore(snapshotv3.RestoreConfig{
			SnapshotPath:   restorePath,
			Name:           name,
			OutputDataDir:  s.paths.etcdData,
			OutputWALDir:   filepath.Join(s.paths.etcdData, "member", "wal"),
			PeerURLs:       []string{peer},
			InitialCluster: name + "=" + peer,
		})
		if err != nil {
			return fmt.Errorf("restoring etcd snapshot %s: %w", restorePath, err)
		}
	}
	if name, err = newMemberName(s.paths, s.cfg.NodeName); err != nil {
		return err
	}
	if err := os.WriteFile(s.paths.resetFlag, nil, 0o600); err != nil {
		return err
	}
	s.log.Info("Starting etcd for new cluster, cluster-reset=true")
	m, err := startEtcd(s, name, etcdStart{state: embed.ClusterStateFlagNew, reset: true})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			m.close()
		}
	}()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-m.e.Err():
			return fmt.Errorf("etcd failed: %w", err)
		case <-t.C:
		}
		if err := m.test(ctx); err != nil {
			// k3s's else branch: make the one member's peer URL the node's.
			m.log.Info("failed to test data store connection", zap.Error(err))
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			list, lerr := m.cli.MemberList(lctx)
			if lerr == nil && len(list.Members) == 1 {
				if _, err := m.cli.MemberUpdate(lctx, list.Members[0].ID, []string{peer}); err != nil {
					m.log.Warn("failed to update peer url", zap.Error(err))
				}
			}
			cancel()
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		list, err := m.cli.MemberList(lctx)
		cancel()
		if err != nil || len(list.Members) != 1 || list.Members[0].Name != name {
			continue
		}
		m.close()
		closed = true
		s.log.Info(resetDoneMessage)
		return nil
	}
}

// copyDir copies the regular files below src to dst, keeping their modes.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, fi.Mode().Perm())
	})
}
