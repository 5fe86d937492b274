package quorum

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// testCluster runs real etcd members in-process on loopback, with TLS and
// client certificate authentication laid out like a k3s server.
type testCluster struct {
	root    string
	tlsDir  string // like /var/lib/rancher/k3s/server/tls/etcd
	members []*testMember
}

type testMember struct {
	name      string
	dataDir   string
	peerURL   url.URL // advertised; may point at a proxy
	listenURL url.URL // where the member listens for peers
	clientURL url.URL
	state     string // "new" or "existing"
	initial   string // initial-cluster at first start
	etcd      *embed.Etcd
	id        uint64 // known once ready
}

func newTestCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	root := t.TempDir()
	c := &testCluster{root: root, tlsDir: filepath.Join(root, "server", "tls", "etcd")}
	writeK3sEtcdPKI(t, c.tlsDir)
	for i := range n {
		c.members = append(c.members, c.newMember(t, fmt.Sprintf("m%d", i), "new"))
	}
	initial := c.initialCluster()
	for _, m := range c.members {
		m.initial = initial
	}
	t.Cleanup(func() { c.stopAll(t) })
	return c
}

func (c *testCluster) newMember(t testing.TB, name, state string) *testMember {
	peer := freeURL(t)
	return &testMember{
		name: name, dataDir: filepath.Join(c.root, name), state: state,
		peerURL: peer, listenURL: peer, clientURL: freeURL(t),
	}
}

// freeURL returns an https URL on a loopback port free at the time of asking.
func freeURL(t testing.TB) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "https", Host: l.Addr().String()}
}

func (c *testCluster) initialCluster() string {
	var parts []string
	for _, m := range c.members {
		parts = append(parts, m.name+"="+m.peerURL.String())
	}
	return strings.Join(parts, ",")
}

func (c *testCluster) config(m *testMember) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.name, m.dataDir
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{m.listenURL}, []url.URL{m.peerURL}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{m.clientURL}, []url.URL{m.clientURL}
	cfg.ListenMetricsUrls = nil
	cfg.InitialCluster, cfg.ClusterState = m.initial, m.state
	cfg.InitialClusterToken = "nodeagent-quorum-test"
	cfg.ClientTLSInfo.CertFile = filepath.Join(c.tlsDir, "server-client.crt")
	cfg.ClientTLSInfo.KeyFile = filepath.Join(c.tlsDir, "server-client.key")
	cfg.ClientTLSInfo.TrustedCAFile = filepath.Join(c.tlsDir, "server-ca.crt")
	cfg.ClientTLSInfo.ClientCertAuth = true
	cfg.PeerTLSInfo.CertFile = filepath.Join(c.tlsDir, "peer-server-client.crt")
	cfg.PeerTLSInfo.KeyFile = filepath.Join(c.tlsDir, "peer-server-client.key")
	cfg.PeerTLSInfo.TrustedCAFile = filepath.Join(c.tlsDir, "peer-ca.crt")
	cfg.PeerTLSInfo.ClientCertAuth = true
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	return cfg
}

// start launches m without waiting for it to be ready: a member that cannot
// reach a quorum of peers never becomes ready.
func (c *testCluster) start(t testing.TB, m *testMember) {
	t.Helper()
	e, err := embed.StartEtcd(c.config(m))
	if err != nil {
		t.Fatalf("starting etcd member %s: %v", m.name, err)
	}
	m.etcd = e
}

// ready waits until m has joined the cluster and serves clients.
func (c *testCluster) ready(t testing.TB, m *testMember, timeout time.Duration) {
	t.Helper()
	select {
	case <-m.etcd.Server.ReadyNotify():
		m.id = uint64(m.etcd.Server.MemberID())
	case err := <-m.etcd.Err():
		t.Fatalf("etcd member %s failed: %v", m.name, err)
	case <-time.After(timeout):
		t.Fatalf("etcd member %s not ready after %s", m.name, timeout)
	}
}

func (c *testCluster) startAll(t testing.TB) {
	t.Helper()
	for _, m := range c.members {
		c.start(t, m)
	}
	for _, m := range c.members {
		c.ready(t, m, 30*time.Second)
	}
}

// stop closes m. A Close that hangs (etcd can block stopping a member that
// has lost its peers) is reported instead of hanging the test binary.
func (c *testCluster) stop(t testing.TB, m *testMember) {
	t.Helper()
	if m.etcd == nil {
		return
	}
	e := m.etcd
	m.etcd = nil
	done := make(chan struct{})
	go func() { e.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("etcd member %s did not stop within 30s", m.name)
	}
}

func (c *testCluster) stopAll(t testing.TB) {
	for _, m := range c.members {
		c.stop(t, m)
	}
}

// addLearner adds a member as learner through m0 and starts it. etcd's strict
// reconfiguration check refuses member changes ("unhealthy cluster") until
// the members have been connected for 5 s, so the add is retried.
func (c *testCluster) addLearner(t testing.TB, name string) *testMember {
	t.Helper()
	cli := c.client(t, c.members[0])
	m := c.newMember(t, name, "existing")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		_, err := cli.MemberAddAsLearner(ctx, []string{m.peerURL.String()})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "unhealthy cluster") {
			t.Fatalf("adding learner %s: %v", name, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("adding learner %s: %v", name, err)
		case <-ticker.C:
		}
	}
	c.waitListed(t, m.peerURL.String(), 15*time.Second)
	c.members = append(c.members, m)
	m.initial = c.initialCluster()
	c.start(t, m)
	c.ready(t, m, 30*time.Second)
	return m
}

// waitListed waits until every member has applied the add of peerURL. A new
// member checks its initial cluster against the member list of whichever
// peer answers first; one that lags the add fails the start with "member
// count is unequal" (seen in a cold CI run on a loaded machine).
func (c *testCluster) waitListed(t testing.TB, peerURL string, timeout time.Duration) {
	t.Helper()
	for _, m := range c.members {
		cli := c.client(t, m)
		deadline := time.Now().Add(timeout)
		for !lists(cli, peerURL) {
			if time.Now().After(deadline) {
				t.Fatalf("member %s does not list %s after %s", m.name, peerURL, timeout)
			}
			time.Sleep(100 * time.Millisecond) // polling the member list, with the deadline above
		}
	}
}

// lists reports whether the member behind cli lists peerURL in its own
// (serializable) member list.
func lists(cli *clientv3.Client, peerURL string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return false
	}
	for _, mem := range resp.Members {
		if slices.Contains(mem.PeerURLs, peerURL) {
			return true
		}
	}
	return false
}

// client returns an etcd client to m with nodeagent's client certificate.
func (c *testCluster) client(t testing.TB, m *testMember) *clientv3.Client {
	t.Helper()
	tlsCfg, err := loadTLS(c.tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{m.clientURL.String()}, TLS: tlsCfg,
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
