package quorum

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestIntegrationIsolatedMember cuts the local member off from raft traffic
// (etcd's PauseSending drops its outgoing and incoming peer messages) while
// every client port stays reachable: the other two members still agree on a
// leader and answer as healthy voters, so only the linearizable read through
// the local endpoint can tell this node that it is not part of the quorum.
func TestIntegrationIsolatedMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	c := newTestCluster(t, 3)
	c.startAll(t)
	m0 := c.members[0]
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	obs := NewObserver(Config{Endpoint: m0.clientURL.String(), TLSDir: c.tlsDir, CallTimeout: 500 * time.Millisecond}, log)
	t.Cleanup(func() { obs.Close() })
	gate := NewGate(obs, GateConfig{}, log)
	if err := gate.Wait(context.Background(), time.Now().Add(10*time.Second), nil); err != nil {
		t.Fatalf("gate did not open on a healthy cluster: %v", err)
	}

	m0.etcd.Server.PauseSending()
	// Resume before the cluster's cleanup stops the members, should the
	// test fail while m0 is cut off.
	paused := m0.etcd.Server
	t.Cleanup(paused.ResumeSending)
	st, took := observeUntil(t, obs, 5*time.Second, "isolation noticed", func(s Status) bool { return !s.Quorum() })
	t.Logf("isolation of m0 noticed after %s: %s", took.Round(time.Millisecond), st.Summary())
	if st.ReadErr == nil {
		t.Errorf("Quorum() false but the local read succeeded: %s", st.Summary())
	}

	// Once m1 and m2 settle on a leader, they are 2/3 healthy voters: the
	// member arithmetic alone says quorum, and that is exactly the trap.
	st, took = observeUntil(t, obs, 15*time.Second, "peers settle without m0", func(s Status) bool {
		m, _ := memberByName(s, m0.name)
		return s.Verdict.Quorum && !m.Healthy
	})
	t.Logf("after %s: %s", took.Round(time.Millisecond), st.Summary())
	if st.Quorum() || st.ReadErr == nil {
		t.Errorf("isolated node claims quorum: %s", st.Summary())
	}
	if gate.Held(context.Background()) {
		t.Error("Held() = true on an isolated node")
	}

	paused.ResumeSending()
	if err := gate.Wait(context.Background(), time.Now().Add(15*time.Second), nil); err != nil {
		t.Fatalf("gate did not reopen after healing: %v", err)
	}
}
