package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdMember is this server's embedded etcd.
type etcdMember struct {
	e     *embed.Etcd
	paths paths
	local string // client URL on the local address
	log   *zap.Logger
}

// etcdStart says how to start a member that has no data yet; a member with
// data restarts from it and etcd ignores both fields (as k3s ignores
// cluster-init and server then).
type etcdStart struct {
	state          string // embed.ClusterStateFlagNew or ...Existing
	initialCluster string
}

func hasEtcdData(p paths) bool {
	return exists(filepath.Join(p.etcdData, "member", "wal"))
}

func startEtcd(s *server, st etcdStart) (*etcdMember, error) {
	cfg := embed.NewConfig()
	cfg.Name = s.cfg.NodeName
	cfg.Dir = s.paths.etcdData
	peer := url.URL{Scheme: "https", Host: net.JoinHostPort(s.cfg.NodeIP, "2380")}
	client := url.URL{Scheme: "https", Host: net.JoinHostPort(s.cfg.NodeIP, "2379")}
	local := url.URL{Scheme: "https", Host: net.JoinHostPort(s.env.local, "2379")}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	if local != client {
		cfg.ListenClientUrls = append(cfg.ListenClientUrls, local)
	}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ClusterState = st.state
	cfg.InitialCluster = st.initialCluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.Name + "=" + peer.String()
	}
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
	return &etcdMember{e: e, paths: s.paths, local: local.String(), log: s.log.With(zap.String("component", "etcd"))}, nil
}

// waitReady waits until the member has joined the raft group and published
// itself.
func (m *etcdMember) waitReady(ctx context.Context) error {
	select {
	case <-m.e.Server.ReadyNotify():
		return nil
	case err := <-m.e.Err():
		return fmt.Errorf("etcd failed before ready: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("waiting for etcd: %w", ctx.Err())
	}
}

func (m *etcdMember) close() { m.e.Close() }

// client connects with the etcd client certificate k3s's own tools use.
func (m *etcdMember) client(endpoints []string) (*clientv3.Client, error) {
	info := transport.TLSInfo{
		CertFile:      filepath.Join(m.paths.etcdTLS, "client.crt"),
		KeyFile:       filepath.Join(m.paths.etcdTLS, "client.key"),
		TrustedCAFile: filepath.Join(m.paths.etcdTLS, "server-ca.crt"),
	}
	tlsCfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading etcd client TLS: %w", err)
	}
	tlsCfg.MinVersion = tls.VersionTLS12
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsCfg,
		DialTimeout: 5 * time.Second,
		Logger:      m.log.WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	})
	if err != nil {
		return nil, fmt.Errorf("creating etcd client: %w", err)
	}
	return cli, nil
}

// addLearner adds the joiner as a learner, or, when a previous attempt
// already added it (same peer URL), answers as if it had just done so.
func (m *etcdMember) addLearner(ctx context.Context, req joinRequest) (joinResponse, error) {
	cli, err := m.client([]string{m.local})
	if err != nil {
		return joinResponse{}, err
	}
	defer func() { _ = cli.Close() }()
	list, err := cli.MemberList(ctx)
	if err != nil {
		return joinResponse{}, fmt.Errorf("listing etcd members: %w", err)
	}
	members, newID := list.Members, uint64(0)
	for _, mem := range list.Members {
		if slices.Contains(mem.PeerURLs, req.PeerURL) {
			newID = mem.ID
		} else if mem.Name == req.Name {
			return joinResponse{}, fmt.Errorf("member %s already exists with peer URLs %v", req.Name, mem.PeerURLs)
		}
	}
	if newID == 0 {
		add, err := cli.MemberAddAsLearner(ctx, []string{req.PeerURL})
		if err != nil {
			return joinResponse{}, fmt.Errorf("adding learner %s: %w", req.Name, err)
		}
		members, newID = add.Members, add.Member.ID
	}
	var resp joinResponse
	var initial []string
	for _, mem := range members {
		name := mem.Name
		if mem.ID == newID {
			name = req.Name
		} else if name == "" {
			name = fmt.Sprintf("unstarted-%x", mem.ID) // only peer URLs are matched
		}
		for _, u := range mem.PeerURLs {
			initial = append(initial, name+"="+u)
		}
		resp.ClientURLs = append(resp.ClientURLs, mem.ClientURLs...)
	}
	resp.InitialCluster = strings.Join(initial, ",")
	return resp, nil
}

// promote makes this learner a voter through the other members, retrying
// until etcd agrees it has caught up with the leader.
func (m *etcdMember) promote(ctx context.Context, endpoints []string) error {
	if !m.e.Server.IsLearner() {
		return nil
	}
	id := uint64(m.e.Server.MemberID())
	cli, err := m.client(endpoints)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	return retry(ctx, m.log, "promoting etcd learner", func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := cli.MemberPromote(cctx, id)
		if err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrGRPCMemberNotLearner) {
			return nil // promoted by an earlier attempt
		}
		if err != nil {
			return fmt.Errorf("promoting member %x: %w", id, err)
		}
		m.log.Info("promoted to voting member", zap.String("id", fmt.Sprintf("%x", id)))
		return nil
	})
}

func saveJoinState(p paths, r joinResponse) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding join state: %w", err)
	}
	return writeFile(p.joinState, data, 0o600)
}

// loadJoinState returns the other members' client URLs recorded at join, to
// finish a promotion that a kill interrupted.
func loadJoinState(p paths) (joinResponse, error) {
	var r joinResponse
	data, err := os.ReadFile(p.joinState)
	if err != nil {
		return r, fmt.Errorf("reading join state: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("decoding join state: %w", err)
	}
	return r, nil
}
