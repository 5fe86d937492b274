package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdMember is this server's embedded etcd.
type etcdMember struct {
	e       *embed.Etcd
	name    string // <node-name>-<8 hex>
	address string // node-ip, the host of the peer URL
	paths   paths
	local   string // client URL on the local address
	cli     *clientv3.Client
	log     *zap.Logger
}

// etcdStart says how to start a member that has no data yet; a member with
// data restarts from it and etcd ignores both fields (as k3s ignores
// cluster-init and server then).
type etcdStart struct {
	state          string // embed.ClusterStateFlagNew or ...Existing
	initialCluster string
	// reset is a cluster reset (k3s's newCluster(ctx, true)): etcd's
	// force-new-cluster, listening on the local address only so that no
	// peer or client reaches it meanwhile (listenPeerURLs and
	// listenClientURLs with reset set).
	reset bool
}

// hasEtcdData is k3s's ETCD.IsInitialized (pkg/etcd/etcd.go): the WAL
// directory exists.
func hasEtcdData(p paths) bool {
	fi, err := os.Stat(filepath.Join(p.etcdData, "member", "wal"))
	return err == nil && fi.IsDir()
}

// memberName is k3s's ETCD.setName (pkg/etcd/etcd.go): the name recorded in
// server/db/etcd/name, or a new "<node-name>-<8 hex>" written there first.
// It runs at every start, before any join.
func memberName(p paths, nodeName string) (string, error) {
	data, err := os.ReadFile(p.etcdName)
	if err == nil {
		return string(data), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading etcd member name: %w", err)
	}
	return newMemberName(p, nodeName)
}

// newMemberName writes a new "<node-name>-<8 hex>" (setName(true) in k3s,
// as a cluster reset does).
func newMemberName(p paths, nodeName string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating etcd member name: %w", err)
	}
	name := nodeName + "-" + hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(p.etcdName), 0o700); err != nil {
		return "", fmt.Errorf("creating etcd data dir: %w", err)
	}
	if err := os.WriteFile(p.etcdName, []byte(name), 0o600); err != nil {
		return "", fmt.Errorf("writing etcd member name: %w", err)
	}
	return name, nil
}

// memberNodeName is the node name k3s reads out of a member name: up to the
// last hyphen (pkg/etcd/etcd.go join).
func memberNodeName(member string) string {
	if i := strings.LastIndex(member, "-"); i > 1 {
		return member[:i]
	}
	return member
}

func startEtcd(s *server, name string, st etcdStart) (*etcdMember, error) {
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = s.paths.etcdData
	peer := url.URL{Scheme: "https", Host: net.JoinHostPort(s.cfg.NodeIP, "2380")}
	localPeer := url.URL{Scheme: "https", Host: net.JoinHostPort(s.env.local, "2380")}
	client := url.URL{Scheme: "https", Host: net.JoinHostPort(s.cfg.NodeIP, "2379")}
	local := url.URL{Scheme: "https", Host: net.JoinHostPort(s.env.local, "2379")}
	// k3s listens on loopback and the node address for both (listenPeerURLs,
	// listenClientURLs) and advertises the node address.
	cfg.ListenPeerUrls = []url.URL{peer}
	if localPeer != peer {
		cfg.ListenPeerUrls = append(cfg.ListenPeerUrls, localPeer)
	}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	if local != client {
		cfg.ListenClientUrls = append(cfg.ListenClientUrls, local)
	}
	if st.reset {
		cfg.ListenPeerUrls = []url.URL{localPeer}
		cfg.ListenClientUrls = []url.URL{local}
		cfg.ForceNewCluster = true
	}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ClusterState = st.state
	cfg.InitialCluster = st.initialCluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.Name + "=" + peer.String()
	}
	// k3s's timing and snapshot count (ETCD.cluster in pkg/etcd/etcd.go).
	cfg.TickMs = 500
	cfg.ElectionMs = 5000
	cfg.SnapshotCount = 10000
	tlsDir := s.paths.etcdTLS
	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile:       filepath.Join(tlsDir, "server-client.crt"),
		KeyFile:        filepath.Join(tlsDir, "server-client.key"),
		TrustedCAFile:  filepath.Join(tlsDir, "server-ca.crt"),
		ClientCertAuth: true,
	}
	cfg.PeerTLSInfo = transport.TLSInfo{
		CertFile:       filepath.Join(tlsDir, "peer-server-client.crt"),
		KeyFile:        filepath.Join(tlsDir, "peer-server-client.key"),
		TrustedCAFile:  filepath.Join(tlsDir, "peer-ca.crt"),
		ClientCertAuth: true,
	}
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{"stderr"}
	cfg.LogLevel = zapcore.InfoLevel.String()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data dir: %w", err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	m := &etcdMember{e: e, name: name, address: s.cfg.NodeIP, paths: s.paths, local: local.String(),
		log: s.log.With(zap.String("component", "etcd"))}
	if m.cli, err = m.client([]string{m.local}); err != nil {
		e.Close()
		return nil, err
	}
	return m, nil
}

func (m *etcdMember) close() {
	_ = m.cli.Close()
	m.e.Close()
}

// client connects with the etcd client certificate k3s's own tools use.
func (m *etcdMember) client(endpoints []string) (*clientv3.Client, error) {
	return newEtcdClient(m.paths, endpoints, m.log)
}

// etcdClientTLS is the TLS of k3s's etcd client (tls/etcd/client.crt).
func etcdClientTLS(p paths) (*tls.Config, error) {
	info := transport.TLSInfo{
		CertFile:      filepath.Join(p.etcdTLS, "client.crt"),
		KeyFile:       filepath.Join(p.etcdTLS, "client.key"),
		TrustedCAFile: filepath.Join(p.etcdTLS, "server-ca.crt"),
	}
	tlsCfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading etcd client TLS: %w", err)
	}
	tlsCfg.MinVersion = tls.VersionTLS12
	return tlsCfg, nil
}

func newEtcdClient(p paths, endpoints []string, log *zap.Logger) (*clientv3.Client, error) {
	tlsCfg, err := etcdClientTLS(p)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsCfg,
		DialTimeout: 2 * time.Second, // k3s's defaultDialTimeout
		Logger:      log.WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	})
	if err != nil {
		return nil, fmt.Errorf("creating etcd client: %w", err)
	}
	return cli, nil
}

// test is k3s's ETCD.Test (pkg/etcd/etcd.go): the local member is a voter
// and listed under its name and peer URL.
func (m *etcdMember) test(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := m.cli.Status(ctx, m.local)
	if err != nil {
		return err
	}
	if st.IsLearner {
		return errors.New("this server has not yet been promoted from learner to voting member")
	}
	list, err := m.cli.MemberList(ctx)
	if err != nil {
		return err
	}
	peer := "https://" + net.JoinHostPort(m.address, "2380")
	var found []string
	for _, mem := range list.Members {
		for _, u := range mem.PeerURLs {
			if u == peer && mem.Name == m.name {
				return nil
			}
		}
		if len(mem.PeerURLs) > 0 {
			found = append(found, mem.Name+"="+mem.PeerURLs[0])
		}
	}
	return fmt.Errorf("this server is a not a member of the etcd cluster. Found %v, expect: %s=%s", found, m.name, peer)
}

// waitVoter is k3s's testClusterDB (pkg/cluster/managed.go): Test every 5 s
// until it passes; the apiserver starts only then.
func (m *etcdMember) waitVoter(ctx context.Context) error {
	for {
		err := m.test(ctx)
		if err == nil {
			m.log.Info("etcd data store connection OK")
			return nil
		}
		m.log.Info("failed to test data store connection", zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting to become a voter: %w", ctx.Err())
		case err := <-m.e.Err():
			return fmt.Errorf("etcd failed: %w", err)
		case <-time.After(5 * time.Second):
		}
	}
}
