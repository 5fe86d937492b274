package quorum

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// detectionTarget is the issue's budget from "second voter healthy" to "gate
// open".
const detectionTarget = time.Second

// TestBenchQuorumDetection measures, on a real 3-member cluster with one
// member down for good, how long the gate takes to open after the second
// voter comes back. "Back" is the moment the restarted member's etcd reports
// ready (it has rejoined raft and published itself, which needs quorum).
// Run with -v to see the figures.
func TestBenchQuorumDetection(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	const rounds = 5
	c := newTestCluster(t, 3)
	c.startAll(t)
	m0, m1, m2 := c.members[0], c.members[1], c.members[2]
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	obs := NewObserver(Config{Endpoint: m0.clientURL.String(), TLSDir: c.tlsDir}, log)
	t.Cleanup(func() { obs.Close() })
	gate := NewGate(obs, GateConfig{Interval: DefaultInterval}, log)
	c.stop(t, m2)

	var detect, total []time.Duration
	for i := range rounds {
		c.stop(t, m1)
		observeUntil(t, obs, 10*time.Second, "quorum lost", func(s Status) bool { return !s.Quorum() })

		opened := make(chan error, 1)
		var openedAt time.Time
		go func() {
			err := gate.Wait(context.Background(), time.Now().Add(60*time.Second), nil)
			openedAt = time.Now()
			opened <- err
		}()
		started := time.Now()
		c.start(t, m1)
		c.ready(t, m1, 60*time.Second)
		readyAt := time.Now()
		if err := <-opened; err != nil {
			t.Fatalf("round %d: gate did not open: %v", i, err)
		}
		d, tot := openedAt.Sub(readyAt), openedAt.Sub(started)
		detect, total = append(detect, d), append(total, tot)
		t.Logf("round %d: member start→ready %s, ready→gate open %s, start→gate open %s",
			i, readyAt.Sub(started).Round(time.Millisecond), d.Round(time.Millisecond), tot.Round(time.Millisecond))
	}
	slices.Sort(detect)
	slices.Sort(total)
	med := detect[len(detect)/2]
	t.Logf("quorum detection (ready→gate open) over %d rounds: min %s, median %s, max %s (target ≤ %s, poll interval %s)",
		rounds, detect[0].Round(time.Millisecond), med.Round(time.Millisecond),
		detect[len(detect)-1].Round(time.Millisecond), detectionTarget, DefaultInterval)
	t.Logf("member start→gate open: min %s, median %s, max %s",
		total[0].Round(time.Millisecond), total[len(total)/2].Round(time.Millisecond), total[len(total)-1].Round(time.Millisecond))
	benchfig.Report(t, benchfig.Figure{
		Name:     "quorum detection: second voter ready → gate open (median)",
		Value:    med.Round(time.Millisecond).String(),
		Target:   "≤ " + detectionTarget.String(),
		Baseline: fmt.Sprintf("member start → ready %s (etcd's own)", (total[len(total)/2] - med).Round(time.Millisecond)),
		Met:      benchfig.Met(med <= detectionTarget),
	})
	if med > detectionTarget {
		t.Errorf("median detection %s exceeds target %s", med, detectionTarget)
	}
}

// BenchmarkObserve measures one full observation (member list, a status call
// per member, one linearizable read) on a 3-member cluster with warm
// connections: the cost of each poll. With a member stopped, its status call
// must fail fast (connection refused) rather than take a whole CallTimeout,
// or one dead Pi would slow every poll to CallTimeout.
func BenchmarkObserve(b *testing.B) {
	c := newTestCluster(b, 3)
	c.startAll(b)
	obs := NewObserver(Config{Endpoint: c.members[0].clientURL.String(), TLSDir: c.tlsDir}, zap.NewNop())
	b.Cleanup(func() { obs.Close() })
	run := func(b *testing.B, wantHealthy int) {
		ctx := context.Background()
		n := 0
		for b.Loop() {
			st, err := obs.Observe(ctx)
			if err != nil || !st.Quorum() || st.Verdict.HealthyVoters != wantHealthy {
				b.Fatalf("observe: %v, %s", err, st.Summary())
			}
			n++
		}
		benchfig.Report(b, benchfig.Figure{
			Name:  fmt.Sprintf("one etcd observation, %d of 3 members up", wantHealthy),
			Value: (b.Elapsed() / time.Duration(n)).Round(10 * time.Microsecond).String(),
		})
	}
	b.Run("healthy", func(b *testing.B) { run(b, 3) })
	c.stop(b, c.members[2])
	b.Run("one-stopped", func(b *testing.B) { run(b, 2) })
}
