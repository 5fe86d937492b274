package serverwork

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// fakeEtcd keeps a member list. Like etcd, it refuses to remove a member
// it does not list (server/etcdserver/api/membership/cluster.go
// ValidateConfigurationChange: ErrIDNotFound).
type fakeEtcd struct {
	members    []quorum.Member
	observeErr error
}

func (f *fakeEtcd) Observe(context.Context) (quorum.Status, error) {
	if f.observeErr != nil {
		return quorum.Status{}, f.observeErr
	}
	ms := slices.Clone(f.members)
	return quorum.Status{Members: ms, Verdict: quorum.Evaluate(ms)}, nil
}

func (f *fakeEtcd) RemoveMember(_ context.Context, id uint64) error {
	i := slices.IndexFunc(f.members, func(m quorum.Member) bool { return m.ID == id })
	if i < 0 {
		return fmt.Errorf("removing etcd member %x: etcdserver: member not found", id)
	}
	f.members = slices.Delete(f.members, i, i+1)
	return nil
}

func (f *fakeEtcd) WaitMemberGone(ctx context.Context, _ host.Clock, id uint64, _, _ time.Duration) (quorum.Status, error) {
	st, err := f.Observe(ctx)
	if err == nil && slices.ContainsFunc(st.Members, func(m quorum.Member) bool { return m.ID == id }) {
		err = errors.New("still listed")
	}
	return st, err
}

func staleWork(t *testing.T, node string) *Work {
	t.Helper()
	c, n := defaultNode(t, node)
	return New(Config{Log: zaptest.NewLogger(t), Cluster: c, Node: n,
		Root: host.NewRoot(t.TempDir()), Clock: host.RealClock{}, StaleObserveWait: 200 * time.Millisecond})
}

// defaultNode is node of the built-in homelab cluster file.
func defaultNode(t *testing.T, node string) (*config.Cluster, config.Node) {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := f.Cluster.Node(node)
	if !ok {
		t.Fatalf("no node %s in the default cluster", node)
	}
	return &f.Cluster, n
}

func etcdMember(id uint64, name, addr string, healthy bool) quorum.Member {
	return quorum.Member{ID: id, Name: name, Healthy: healthy, PeerURLs: []string{"https://" + net.JoinHostPort(addr, "2380")}}
}

func TestReplaceStale(t *testing.T) {
	p := staleWork(t, "pi4-2")
	own := p.cfg.Node.Address
	// This node's k3s chose the name pi4-2-0c0c0c0c before a join that
	// stopped half-way.
	if _, err := host.WriteFileAtomic(p.cfg.Root.Path(k3s.EtcdNameFile), []byte("pi4-2-0c0c0c0c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pi41, pi5 := etcdMember(1, "pi4-1-0a0b0c0d", "10.9.0.1", true), etcdMember(3, "pi5-5e5e5e5e", "10.9.0.3", true)
	tests := []struct {
		name        string
		members     []quorum.Member
		observeErr  error
		wantErr     string // substring; "" for success
		wantStatus  []string
		wantMembers []string
	}{
		{name: "dead member of this node: removed",
			members:     []quorum.Member{pi41, etcdMember(2, "pi4-2-1a2b3c4d", own, false), pi5},
			wantStatus:  []string{"removing stale etcd member pi4-2-1a2b3c4d", "removed stale etcd member pi4-2-1a2b3c4d; 2/2 voters healthy, need 2"},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi5-5e5e5e5e"}},
		{name: "no member of this node: nothing said",
			members:     []quorum.Member{pi41, pi5},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi5-5e5e5e5e"}},
		{name: "healthy member: refused",
			members: []quorum.Member{pi41, etcdMember(2, "pi4-2-1a2b3c4d", own, true), pi5},
			wantErr: "is healthy", wantStatus: []string{"not removing: etcd member pi4-2-1a2b3c4d is healthy"},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi4-2-1a2b3c4d", "pi5-5e5e5e5e"}},
		{name: "another peer URL: refused",
			members: []quorum.Member{pi41, etcdMember(2, "pi4-2-1a2b3c4d", "10.9.0.99", false), pi5},
			wantErr: "not this node's", wantStatus: []string{"not removing: etcd member pi4-2-1a2b3c4d has peer URL"},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi4-2-1a2b3c4d", "pi5-5e5e5e5e"}},
		{name: "no quorum to remove with: refused",
			members: []quorum.Member{pi41, etcdMember(2, "pi4-2-1a2b3c4d", own, false), etcdMember(3, "pi5-5e5e5e5e", "10.9.0.3", false)},
			wantErr: "etcd has no quorum now", wantStatus: []string{"not removing: not safe to remove etcd member pi4-2-1a2b3c4d: etcd has no quorum now (1/3 voters healthy, need 2)"},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi4-2-1a2b3c4d", "pi5-5e5e5e5e"}},
		{name: "the member k3s chose here (a join stopped half-way): left to k3s",
			members:     []quorum.Member{pi41, etcdMember(2, "pi4-2-0c0c0c0c", own, false), pi5},
			wantMembers: []string{"pi4-1-0a0b0c0d", "pi4-2-0c0c0c0c", "pi5-5e5e5e5e"}},
		{name: "etcd not observable",
			observeErr: errors.New("connection refused"),
			wantErr:    "cannot observe etcd through https://10.9.0.1:2379 (its etcd may not be up yet)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			etcd := &fakeEtcd{members: slices.Clone(tc.members), observeErr: tc.observeErr}
			var status []string
			err := p.replaceStale(context.Background(), etcd, "https://10.9.0.1:2379", func(s string) { status = append(status, s) }, time.Now())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("replaceStale = %v, want error containing %q", err, tc.wantErr)
			}
			if len(status) != len(tc.wantStatus) {
				t.Fatalf("status %q, want %d lines starting %q", status, len(tc.wantStatus), tc.wantStatus)
			}
			for i, want := range tc.wantStatus {
				if !strings.HasPrefix(status[i], want) {
					t.Errorf("status line %d %q, want it to start %q", i, status[i], want)
				}
			}
			var names []string
			for _, m := range etcd.members {
				names = append(names, m.Name)
			}
			if diff := cmp.Diff(tc.wantMembers, names); diff != "" {
				t.Errorf("members left (-want +got):\n%s", diff)
			}
		})
	}
}

// testEtcdCA is an etcd server CA and its key in PEM, as k3s generates them.
func testEtcdCA(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd-server-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// supervisor imitates a k3s server's /cacerts and /v1-k3s/server-bootstrap
// (basic auth "server", 401 otherwise; pkg/server/handlers/router.go,
// pkg/bootstrap/bootstrap.go) and counts the bootstrap fetches.
func supervisor(t *testing.T, secret string, fetches *int) (url, caHash string) {
	t.Helper()
	etcdCA, etcdKey := testEtcdCA(t)
	var caPEM []byte
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cacerts":
			_, _ = w.Write(caPEM)
		case "/v1-k3s/server-bootstrap":
			if u, pw, ok := r.BasicAuth(); !ok || u != "server" || pw != secret {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			*fetches++
			_ = json.NewEncoder(w).Encode(map[string]any{
				"ETCDServerCA":    map[string]any{"Timestamp": "2024-05-01T10:00:00Z", "Content": etcdCA},
				"ETCDServerCAKey": map[string]any{"Timestamp": "2024-05-01T10:00:00Z", "Content": etcdKey},
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv.URL, k3s.CAHash(caPEM)
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// ReplaceStaleMember reads the token from the token file, fetches the
// bootstrap data with it from a server whose CA matches, signs a client
// certificate and goes on to etcd on the server's host (none here).
func TestReplaceStaleMemberWiring(t *testing.T) {
	p := staleWork(t, "pi4-2")
	p.cfg.EtcdClientPort = closedPort(t)
	if _, err := host.WriteFileAtomic(p.cfg.Root.Path(p.cfg.Cluster.K3s.TokenFile), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fetches int
	url, caHash := supervisor(t, "s3cret", &fetches)
	ctx := context.Background()

	err := p.ReplaceStaleMember(ctx, url, caHash, func(string) {})
	wantEndpoint := "https://127.0.0.1:" + p.cfg.EtcdClientPort
	if err == nil || !strings.Contains(err.Error(), "cannot observe etcd through "+wantEndpoint) || fetches != 1 {
		t.Fatalf("ReplaceStaleMember = %v after %d bootstrap fetches; want one fetch, then etcd at %s not observable", err, fetches, wantEndpoint)
	}
	err = p.ReplaceStaleMember(ctx, url, strings.Repeat("ab", 32), func(string) {})
	if !errors.Is(err, k3s.ErrCAMismatch) || fetches != 1 {
		t.Errorf("ReplaceStaleMember with another CA = %v after %d fetches, want ErrCAMismatch and no fetch", err, fetches-1)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q quotes the token", err)
	}
}
