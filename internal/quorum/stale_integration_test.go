package quorum

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// staleNode is the node whose old etcd member m2 plays: k3s names members
// "<node>-<8 hex>".
const staleNode, staleMember = "pi4-2", "pi4-2-1a2b3c4d"

// newStaleCluster starts 3 members, the third named after staleNode, and
// returns an observer through m0 that authenticates with a client
// certificate minted in memory from the etcd server CA, as the
// stale-member child does with the CA from the bootstrap data.
func newStaleCluster(t *testing.T) (*testCluster, *Observer) {
	t.Helper()
	c := newTestCluster(t, 3)
	c.members[2].name = staleMember
	initial := c.initialCluster()
	for _, m := range c.members {
		m.initial = initial
	}
	c.startAll(t)
	caPEM, err := os.ReadFile(filepath.Join(c.tlsDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(c.tlsDir, "server-ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := MintClientTLS(caPEM, keyPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// TLSDir points nowhere: the minted config must be the one used.
	obs := NewObserver(Config{Endpoint: c.members[0].clientURL.String(), TLSDir: t.TempDir(), TLS: tlsCfg,
		CallTimeout: 500 * time.Millisecond}, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	t.Cleanup(func() { obs.Close() })
	return c, obs
}

// decideUntil observes until the stale-member decision satisfies cond.
func decideUntil(t *testing.T, obs *Observer, peerURL, what string, cond func(StaleDecision) bool) StaleDecision {
	t.Helper()
	var d StaleDecision
	observeUntil(t, obs, 20*time.Second, what, func(st Status) bool {
		d = DecideStaleMember(st.Members, staleNode, peerURL)
		return cond(d)
	})
	return d
}

func TestIntegrationStaleMemberRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	c, obs := newStaleCluster(t)
	stale := c.members[2]
	c.stop(t, stale)
	d := decideUntil(t, obs, stale.peerURL.String(), "the stopped member is removable",
		func(d StaleDecision) bool { return d.Remove != nil })
	t.Logf("decision: %s", d)
	if d.Remove.ID != stale.id || !strings.HasPrefix(d.String(), "removing stale etcd member "+staleMember) {
		t.Fatalf("decision %s (id %x), want to remove %s (id %x)", d, d.Remove.ID, staleMember, stale.id)
	}
	ctx := context.Background()
	if err := obs.RemoveMember(ctx, d.Remove.ID); err != nil {
		t.Fatal(err)
	}
	st, err := obs.WaitMemberGone(ctx, host.RealClock{}, d.Remove.ID, 10*time.Second, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 2 || st.Verdict.Voters != 2 {
		t.Errorf("after the removal: %s, want 2 voters left", st.Summary())
	}
	// The remaining two keep quorum (the read through m0 confirms it).
	observeUntil(t, obs, 10*time.Second, "quorum among the remaining two", func(st Status) bool { return st.Quorum() })
	if again := decideUntil(t, obs, stale.peerURL.String(), "nothing left to remove",
		func(d StaleDecision) bool { return d.Remove == nil }); again.Refused != "" {
		t.Errorf("after the removal: %s, want nothing to do", again)
	}
}

func TestIntegrationStaleMemberRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	c, obs := newStaleCluster(t)
	stale := c.members[2]
	peer := stale.peerURL.String()
	refused := func(want string) func(StaleDecision) bool {
		return func(d StaleDecision) bool { return d.Remove == nil && strings.Contains(d.Refused, want) }
	}

	d := decideUntil(t, obs, peer, "a healthy member is refused", refused("is healthy"))
	t.Logf("healthy: %s", d)

	c.stop(t, stale)
	d = decideUntil(t, obs, "https://10.0.0.12:2380", "another peer URL is refused", refused("not this node's"))
	t.Logf("other peer URL: %s", d)

	c.stop(t, c.members[1])
	d = decideUntil(t, obs, peer, "a removal without quorum is refused", refused("etcd has no quorum now"))
	t.Logf("second member down: %s", d)
	st, err := obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := memberByName(st, staleMember); !ok || len(st.Members) != 3 {
		t.Errorf("members after the refusals: %s, want all 3 still listed", st.Summary())
	}
}
