package k3s

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

var fastProbe = probeBackoff{min: 5 * time.Millisecond, max: 20 * time.Millisecond, probeTimeout: time.Second}

// fakeProber holds each server's state, changed by the test while the
// manager probes; it counts the probes per URL.
type fakeProber struct {
	mu     sync.Mutex
	state  map[string]PeerAnswer
	probes map[string]int
	// after, when set, runs after every probe (under the lock), so a test
	// can change a server's state once it has been asked n times.
	after func(url string, n int, state map[string]PeerAnswer)
}

func newFakeProber() *fakeProber {
	return &fakeProber{state: map[string]PeerAnswer{}, probes: map[string]int{}}
}

func (f *fakeProber) ProbeCA(_ context.Context, url string) PeerAnswer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes[url]++
	a, ok := f.state[url]
	if !ok {
		a = PeerAnswer{State: PeerUnknown, Err: fmt.Errorf("i/o timeout")}
	}
	if f.after != nil {
		f.after(url, f.probes[url], f.state)
	}
	a.URL = url
	return a
}

func (f *fakeProber) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.probes {
		n += v
	}
	return n
}

// joinFixture is a manager for one node of the homelab (pi4-1 10.0.0.11,
// pi4-2 .12, pi5 .13) with a fake prober: no network is used.
func joinFixture(t *testing.T, node, token string) (*Manager, *fakeProber) {
	t.Helper()
	root := newRoot(t)
	c := defaultCluster(t)
	c.K3s.JoinTimeout = config.Duration{Duration: 600 * time.Millisecond}
	// Agents join with the agent token; here both files hold token, so a
	// pin it carries applies to every role.
	mustWrite(t, root.Path(c.K3s.TokenFile), []byte(token+"\n"), 0o600)
	mustWrite(t, root.Path(c.K3s.AgentTokenFile), []byte(token+"\n"), 0o600)
	n, ok := c.Node(node)
	if !ok {
		t.Fatalf("no node %s", node)
	}
	log := zaptest.NewLogger(t)
	m := NewManager(root, log, c, n, release.NewInstaller(root, log, host.RealClock{}, testOptions()), NewFakeServiceManager(), nil)
	p := newFakeProber()
	m.Prober, m.backoff, m.InitGrace = p, fastProbe, 300*time.Millisecond
	return m, p
}

func peerURL(n int) string { return fmt.Sprintf("https://10.0.0.%d:6443", n) }

var (
	refused = PeerAnswer{State: PeerUnknown, Err: fmt.Errorf("connection refused")}
	caA     = strings.Repeat("a", 64)
	caB     = strings.Repeat("b", 64)
)

func hasCA(h string) PeerAnswer { return PeerAnswer{State: PeerHasCluster, CAHash: h} }

func TestManagerDecideJoin(t *testing.T) {
	pinnedA := "K10" + caA + "::server:secret"
	tests := []struct {
		name, node, token string
		state             map[string]PeerAnswer
		// becomes, when set, is the state a server takes after its 3rd probe.
		becomes    map[string]PeerAnswer
		want       Join
		wantErr    string
		wantReason string
		minRounds  int // at least this many probes of pi4-2
	}{
		{name: "brand-new homelab: every peer refuses, the first server waits out the grace, then inits",
			node: "pi4-1", token: "secret", state: map[string]PeerAnswer{peerURL(12): refused, peerURL(13): refused},
			want: Join{ClusterInit: true}, minRounds: 2, wantReason: "first server, no cluster answers on pi4-2 (connection refused), pi5 (connection refused): initialising a new cluster"},
		{name: "a booting server that has the cluster answers within the grace",
			node: "pi4-1", token: "secret", state: map[string]PeerAnswer{peerURL(12): refused, peerURL(13): refused},
			becomes: map[string]PeerAnswer{peerURL(13): hasCA(caA)},
			want:    Join{Server: peerURL(13)}, minRounds: 3},
		{name: "first server waits out the grace for a silent peer, then inits",
			node: "pi4-1", token: "secret", state: map[string]PeerAnswer{peerURL(12): refused},
			want: Join{ClusterInit: true}, minRounds: 3, wantReason: "initialising a new cluster"},
		{name: "rebuilt first server joins through the first server that has the cluster",
			node: "pi4-1", token: "secret", state: map[string]PeerAnswer{peerURL(12): refused, peerURL(13): hasCA(caA)},
			want: Join{Server: peerURL(13)}, wantReason: "joining through pi5: it has the cluster (CA sha256 aaaaaaaaaaaa…)"},
		{name: "config order among servers with the cluster",
			node: "pi5", token: "secret", state: map[string]PeerAnswer{peerURL(11): hasCA(caA), peerURL(12): hasCA(caA)},
			want: Join{Server: peerURL(11)}},
		{name: "pinned token: the first server never inits, waits for its cluster",
			node: "pi4-1", token: pinnedA, state: map[string]PeerAnswer{peerURL(12): refused, peerURL(13): refused},
			wantErr: "never initialising a second cluster"},
		{name: "pinned token: a server of another cluster does not count",
			node: "pi4-2", token: pinnedA, state: map[string]PeerAnswer{peerURL(11): hasCA(caB), peerURL(13): refused},
			becomes: map[string]PeerAnswer{peerURL(13): hasCA(caA)},
			want:    Join{Server: peerURL(13)}, minRounds: 3},
		{name: "pinned token: only another cluster answers",
			node: "pi4-2", token: pinnedA, state: map[string]PeerAnswer{peerURL(11): hasCA(caB)},
			wantErr: "pi4-1 has CA sha256 bbbbbbbbbbbb…, not the pinned one"},
		{name: "non-first server waits for the first server to create the cluster",
			node: "pi5", token: "secret", state: map[string]PeerAnswer{peerURL(11): refused, peerURL(12): refused},
			becomes: map[string]PeerAnswer{peerURL(11): hasCA(caA)},
			want:    Join{Server: peerURL(11)}, minRounds: 3},
		{name: "fresh pi5 joins while pi4-2 is down",
			node: "pi5", token: "secret", state: map[string]PeerAnswer{peerURL(11): hasCA(caA)},
			want: Join{Server: peerURL(11)}},
		{name: "non-first server never inits",
			node: "pi5", token: "secret", state: map[string]PeerAnswer{peerURL(11): refused, peerURL(12): refused},
			wantErr: "only the first server creates it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, p := joinFixture(t, tc.node, tc.token)
			p.state = tc.state
			p.after = func(u string, n int, st map[string]PeerAnswer) {
				if a, ok := tc.becomes[u]; ok && n >= 3 {
					st[u] = a
				}
			}
			var rounds int
			d, err := m.DecideJoin(context.Background(), "", func(JoinDecision) { rounds++ })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d.Join); diff != "" {
				t.Errorf("join (-want +got):\n%s", diff)
			}
			if !strings.Contains(d.Reason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tc.wantReason)
			}
			if rounds+1 < tc.minRounds {
				t.Errorf("decided after %d rounds, want at least %d", rounds+1, tc.minRounds)
			}
		})
	}
}

// A recorded CA pins like a token: a node that joined once never inits.
func TestManagerDecideJoinRecordedCA(t *testing.T) {
	m, p := joinFixture(t, "pi4-1", "secret")
	p.state = map[string]PeerAnswer{peerURL(12): refused, peerURL(13): refused}
	_, err := m.DecideJoin(context.Background(), caA, nil)
	if err == nil || !strings.Contains(err.Error(), "recorded") {
		t.Fatalf("error = %v, want a wait for the recorded cluster", err)
	}
}

// A node that has joined keeps its config's join keys and asks no one.
func TestManagerDecideJoinJoined(t *testing.T) {
	m, p := joinFixture(t, "pi4-1", "secret")
	if err := os.MkdirAll(m.root.Path(EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m.root.Path(ConfigPath), []byte("server: "+peerURL(12)+"\ntoken: x\n"), 0o600)
	d, err := m.DecideJoin(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Join{Server: peerURL(12)}, d.Join); diff != "" {
		t.Errorf("join (-want +got):\n%s", diff)
	}
	if n := p.total(); n != 0 {
		t.Errorf("a joined node probed %d times, want none", n)
	}
}

// TestManagerDecideJoinOverTLS runs the real prober through the manager
// against supervisors on loopback addresses (127.211.0.x:6443, loopback only):
// pi4-2 answers with a CA, pi5 refuses, so a wiped pi4-1 joins through pi4-2.
func TestManagerDecideJoinOverTLS(t *testing.T) {
	m, _ := joinFixture(t, "pi4-1", "secret")
	m.Prober = NewHTTPCAProber(time.Second)
	ca := testCAPEM(t)
	for i := range m.cluster.Nodes {
		m.cluster.Nodes[i].Address = fmt.Sprintf("127.211.0.%d", 11+i)
	}
	ln, err := net.Listen("tcp", "127.211.0.12:6443")
	if err != nil {
		if os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatalf("listening on a loopback address: %v", err)
		}
		t.Skipf("cannot listen on 127.211.0.12:6443: %v", err)
	}
	srv := httptest.NewUnstartedServer(caHandler(ca))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	d, err := m.DecideJoin(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Server != "https://127.211.0.12:6443" || d.Via != "pi4-2" || d.CAHash != CAHash(ca) || d.ClusterInit {
		t.Errorf("decision %+v, want a join through pi4-2 with CA %s", d, CAHash(ca))
	}
}

func caHandler(ca []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cacerts" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(ca)
	})
}
