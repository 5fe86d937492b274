package quorum

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// fakeClock's ticker always has a tick ready; time moves only when the fake
// prober advances it, one interval per observation, so Wait runs through a
// script without sleeping.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) NewTicker(time.Duration) host.Ticker {
	ch := make(chan time.Time)
	close(ch)
	return fakeTicker{ch}
}

// NewTimer is not used by Gate.
func (c *fakeClock) NewTimer(time.Duration) host.Timer { panic("quorum: unexpected NewTimer") }

type fakeTicker struct{ ch chan time.Time }

func (f fakeTicker) C() <-chan time.Time { return f.ch }
func (fakeTicker) Stop()                 {}

// scriptProber plays back observations; the last one repeats.
type scriptProber struct {
	clock *fakeClock
	step  time.Duration
	steps []observation
	calls int
}

type observation struct {
	st  Status
	err error
}

func (p *scriptProber) Observe(context.Context) (Status, error) {
	i := min(p.calls, len(p.steps)-1)
	p.calls++
	p.clock.now = p.clock.now.Add(p.step)
	return p.steps[i].st, p.steps[i].err
}

func status(healthy ...bool) Status {
	var ms []Member
	for i, h := range healthy {
		ms = append(ms, Member{ID: uint64(i + 1), Name: string(rune('a' + i)), Healthy: h})
	}
	return Status{Leader: 1, Members: ms, Verdict: Evaluate(ms)}
}

func newTestGate(t *testing.T, steps ...observation) (*Gate, *scriptProber, time.Time) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &scriptProber{clock: clock, step: DefaultInterval, steps: steps}
	g := NewGate(p, GateConfig{Clock: clock}, zaptest.NewLogger(t))
	return g, p, clock.now
}

func TestGateWait(t *testing.T) {
	noLeaderRead := status(true, true, true)
	noLeaderRead.ReadErr = errors.New("etcdserver: no leader")
	tests := []struct {
		name      string
		steps     []observation
		timeout   time.Duration
		wantErr   string // "" for success
		wantCalls int
	}{
		{"open at once", []observation{{st: status(true, true, true)}}, time.Second, "", 1},
		{"opens when second voter returns",
			[]observation{{st: status(true, false, false)}, {st: status(true, false, false)}, {st: status(true, true, false)}},
			time.Second, "", 3},
		{"observe errors then opens",
			[]observation{{err: errors.New("listing etcd members: refused")}, {st: status(true, true, false)}},
			time.Second, "", 2},
		{"times out naming voters",
			[]observation{{st: status(true, false, false)}},
			time.Second, "1/3 voters healthy, need 2", 4},
		{"voters fine but local read fails",
			[]observation{{st: noLeaderRead}},
			time.Second, "local linearizable read failed: etcdserver: no leader", 4},
		{"never observed",
			[]observation{{err: errors.New("listing etcd members: refused")}},
			500 * time.Millisecond, "cluster never observed: listing etcd members: refused", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, p, start := newTestGate(t, tt.steps...)
			var seen []string
			err := g.Wait(context.Background(), start.Add(tt.timeout), func(s Status) {
				seen = append(seen, s.Verdict.String())
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Wait() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Wait() = %v, want error containing %q", err, tt.wantErr)
			case tt.wantErr != "" && !errors.Is(err, ErrNoQuorum):
				t.Errorf("Wait() = %v, want it to wrap ErrNoQuorum", err)
			}
			if p.calls != tt.wantCalls || len(seen) != tt.wantCalls {
				t.Errorf("observations = %d, progress calls = %d, want %d", p.calls, len(seen), tt.wantCalls)
			}
		})
	}
}

func TestGateWaitCancelled(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	p := &scriptProber{clock: clock, steps: []observation{{st: status(true, false, false)}}}
	// A ticker that never fires: only ctx can end the wait.
	g := NewGate(p, GateConfig{Clock: stuckClock{clock}}, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := g.Wait(ctx, clock.now.Add(time.Hour), nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoQuorum) {
		t.Fatalf("Wait() = %v, want context.Canceled and not ErrNoQuorum", err)
	}
}

type stuckClock struct{ *fakeClock }

func (stuckClock) NewTicker(time.Duration) host.Ticker { return fakeTicker{make(chan time.Time)} }

// TestGateHeld: quorum is lost only when a second observation, one
// interval after a failed or closed one, says so too.
func TestGateHeld(t *testing.T) {
	slow := observation{err: errors.New("linearizable read: context deadline exceeded")}
	for _, tt := range []struct {
		name      string
		obs       []observation
		want      bool
		wantCalls int
	}{
		{"held", []observation{{st: status(true, true, false)}}, true, 1},
		{"lost", []observation{{st: status(true, false, false)}}, false, 2},
		{"unknown", []observation{{err: errors.New("refused")}}, false, 2},
		{"one slow read", []observation{slow, {st: status(true, true, true)}}, true, 2},
		{"lost for a moment", []observation{{st: status(true, false, false)}, {st: status(true, true, false)}}, true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, p, _ := newTestGate(t, tt.obs...)
			if got := g.Held(context.Background()); got != tt.want {
				t.Errorf("Held() = %v, want %v", got, tt.want)
			}
			if p.calls != tt.wantCalls {
				t.Errorf("observations = %d, want %d", p.calls, tt.wantCalls)
			}
		})
	}
}

// A first server alone is a quorum to etcd (1/1); with three servers in the
// cluster file the gate waits for a second healthy voter.
func TestGateWaitsForConfiguredServers(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &scriptProber{clock: clock, step: DefaultInterval, steps: []observation{
		{st: status(true)}, {st: status(true)}, {st: status(true, true)},
	}}
	g := NewGate(p, GateConfig{Clock: clock, MinHealthyVoters: 2}, zaptest.NewLogger(t))
	if g.Held(context.Background()) {
		t.Error("Held with 1 healthy voter, want false with a floor of 2")
	}
	if err := g.Wait(context.Background(), clock.now.Add(time.Second), nil); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if p.calls != 3 {
		t.Errorf("observations = %d, want 3 (open only at the second voter)", p.calls)
	}
}
