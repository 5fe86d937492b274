package apiserver

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// etcdReadyTimeout bounds how long a fresh single-member etcd may take to
// elect itself; it is well under a second on an idle machine.
const etcdReadyTimeout = time.Minute

// startEtcd runs a single-member etcd inside the test process, with its data
// and log under dir. Ports are chosen by the kernel (":0") and read back from
// the listeners, so parallel test binaries never collide.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	cfg := embed.NewConfig()
	cfg.Name = "nodeagent-test"
	cfg.Dir = filepath.Join(dir, "data")
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{loopback}
	cfg.AdvertiseClientUrls = []url.URL{loopback}
	cfg.ListenPeerUrls = []url.URL{loopback}
	cfg.AdvertisePeerUrls = []url.URL{loopback}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Throwaway data: skipping fsync makes writes several times faster.
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("creating etcd data dir: %w", err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("starting etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("starting etcd: %w", err)
	case <-time.After(etcdReadyTimeout):
		e.Close()
		return nil, "", fmt.Errorf("starting etcd: not ready after %s", etcdReadyTimeout)
	}
	endpoint := "http://" + e.Clients[0].Addr().String()
	return e, endpoint, nil
}
