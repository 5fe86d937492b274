package quorum

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// observeUntil polls o until cond holds or timeout passes, returning the
// last status and how long it took.
func observeUntil(t *testing.T, o *Observer, timeout time.Duration, what string, cond func(Status) bool) (Status, time.Duration) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	var last Status // last successful observation
	for {
		st, err := o.Observe(ctx)
		if err == nil && cond(st) {
			return st, time.Since(start)
		}
		if err == nil {
			last = st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached within %s; last status: %s; last error: %v", what, timeout, last.Summary(), err)
		case <-ticker.C:
		}
	}
}

func memberByName(st Status, name string) (Member, bool) {
	for _, m := range st.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

func TestIntegrationQuorumScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	c := newTestCluster(t, 3)
	c.startAll(t)
	m0, m1, m2 := c.members[0], c.members[1], c.members[2]

	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	obs := NewObserver(Config{Endpoint: m0.clientURL.String(), TLSDir: c.tlsDir, CallTimeout: 500 * time.Millisecond}, log)
	t.Cleanup(func() { obs.Close() })
	gate := NewGate(obs, GateConfig{}, log)
	waitOpen := func(t *testing.T, within time.Duration) {
		t.Helper()
		var last Status
		if err := gate.Wait(context.Background(), time.Now().Add(within), func(s Status) { last = s }); err != nil {
			t.Fatalf("gate did not open: %v", err)
		}
		t.Logf("gate open: %s", last.Summary())
	}

	t.Run("3/3 healthy", func(t *testing.T) {
		waitOpen(t, 10*time.Second)
		st, err := obs.Observe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := Verdict{Voters: 3, HealthyVoters: 3, Needed: 2, Quorum: true}
		if diff := cmp.Diff(want, st.Verdict); diff != "" {
			t.Errorf("verdict (-want +got):\n%s\n%s", diff, st.Summary())
		}
		if st.Self != m0.id || st.ReadErr != nil || st.Leader == 0 || st.LeaderName() == "" {
			t.Errorf("self %x (want %x), leader %x %q, read error %v", st.Self, m0.id, st.Leader, st.LeaderName(), st.ReadErr)
		}
		for _, tm := range c.members {
			m, ok := memberByName(st, tm.name)
			if !ok {
				t.Fatalf("member %s not listed: %+v", tm.name, st.Members)
			}
			if m.ID != tm.id || m.Learner || m.Leader != st.Leader || m.Term != st.Term ||
				!cmp.Equal(m.PeerURLs, []string{tm.peerURL.String()}) ||
				!cmp.Equal(m.ClientURLs, []string{tm.clientURL.String()}) {
				t.Errorf("member %s = %+v", tm.name, m)
			}
		}
		if !gate.Held(context.Background()) {
			t.Error("Held() = false on a healthy cluster")
		}
	})

	t.Run("learner listed but not counted", func(t *testing.T) {
		l := c.addLearner(t, "learner")
		st, _ := observeUntil(t, obs, 15*time.Second, "learner healthy", func(s Status) bool {
			m, ok := memberByName(s, "learner")
			return ok && m.Healthy
		})
		m, _ := memberByName(st, "learner")
		if !m.Learner || m.ID != l.id {
			t.Errorf("learner member = %+v, want Learner with ID %x", m, l.id)
		}
		want := Verdict{Voters: 3, HealthyVoters: 3, Learners: 1, Needed: 2, Quorum: true}
		if diff := cmp.Diff(want, st.Verdict); diff != "" {
			t.Errorf("verdict (-want +got):\n%s", diff)
		}
	})

	t.Run("one voter stopped keeps quorum", func(t *testing.T) {
		c.stop(t, m1)
		st, _ := observeUntil(t, obs, 10*time.Second, "m1 seen down", func(s Status) bool {
			m, _ := memberByName(s, m1.name)
			return !m.Healthy
		})
		t.Logf("after stopping m1: %s", st.Summary())
		waitOpen(t, 10*time.Second)
		st, _ = observeUntil(t, obs, 10*time.Second, "2/3 with quorum", func(s Status) bool {
			return s.Verdict.HealthyVoters == 2
		})
		if !st.Quorum() || st.Verdict.Voters != 3 || st.Verdict.Learners != 1 {
			t.Errorf("want quorum with 2/3 voters and 1 learner, got %s", st.Summary())
		}
	})

	t.Run("two voters stopped loses quorum", func(t *testing.T) {
		c.stop(t, m2)
		st, took := observeUntil(t, obs, 5*time.Second, "quorum lost", func(s Status) bool { return !s.Quorum() })
		t.Logf("quorum loss reported after %s: %s", took.Round(time.Millisecond), st.Summary())
		if st.Verdict.HealthyVoters > 1 {
			t.Errorf("healthy voters = %d with two of three stopped", st.Verdict.HealthyVoters)
		}
		if gate.Held(context.Background()) {
			t.Error("Held() = true with two of three voters stopped")
		}
		err := gate.Wait(context.Background(), time.Now().Add(time.Second), nil)
		if !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("Wait() = %v, want ErrNoQuorum", err)
		}
		t.Logf("Wait error: %v", err)
		// Once the election timeout passes, the survivor knows no leader
		// and must not count itself as healthy (it still answers locally).
		st, took = observeUntil(t, obs, 10*time.Second, "m0 without leader", func(s Status) bool {
			m, _ := memberByName(s, m0.name)
			return m.Reason == "no leader"
		})
		t.Logf("m0 reports no leader after %s: %s", took.Round(time.Millisecond), st.Summary())
		if st.Verdict.HealthyVoters != 0 || st.ReadErr == nil || st.Quorum() {
			t.Errorf("isolated m0: want 0 healthy voters and a failed read, got %s", st.Summary())
		}
	})

	t.Run("restarted members restore quorum", func(t *testing.T) {
		c.start(t, m1)
		c.start(t, m2)
		waitOpen(t, 30*time.Second)
		st, _ := observeUntil(t, obs, 15*time.Second, "3/3 again", func(s Status) bool {
			return s.Verdict.HealthyVoters == 3
		})
		want := Verdict{Voters: 3, HealthyVoters: 3, Learners: 1, Needed: 2, Quorum: true}
		if diff := cmp.Diff(want, st.Verdict); diff != "" {
			t.Errorf("verdict (-want +got):\n%s", diff)
		}
		for _, tm := range []*testMember{m1, m2} {
			if m, _ := memberByName(st, tm.name); m.ID != tm.id {
				t.Errorf("%s came back as %x, want same member %x (same data dir)", tm.name, m.ID, tm.id)
			}
		}
	})
}
