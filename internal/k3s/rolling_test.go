package k3s

import (
	"context"
	"errors"
	"os"
	"testing"
)

// A change on a server that already is an etcd member goes through the
// rolling restart, which decides when restart runs; a refused turn is
// remembered, and the next Ensure makes the change in its turn.
func TestRestartOfAnEtcdMemberWaitsItsTurn(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil { // first start: no etcd data yet
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.root.Path(EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	started := fx.svc.Restarts["k3s.service"]
	var pendingDuringTurn bool
	refuse := errors.New("pi5 unhealthy")
	turn := &fakeTurn{claim: func(n int) error {
		_, err := os.Stat(fx.root.Path(RestartPendingPath))
		pendingDuringTurn = err == nil
		if n == 1 {
			return refuse
		}
		return nil
	}}
	fx.mgr.turn = turn
	fx.cluster.K3s.Disable = append(fx.cluster.K3s.Disable, "metrics-server")
	if _, err := fx.mgr.Ensure(ctx, fx.join()); !errors.Is(err, refuse) {
		t.Fatalf("Ensure with the turn refused: err = %v, want it passed on", err)
	}
	if !pendingDuringTurn || fx.svc.Restarts["k3s.service"] != started {
		t.Fatalf("pending marker during the turn %v, restarts %d; want true and none", pendingDuringTurn, fx.svc.Restarts["k3s.service"]-started)
	}
	res, err := fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatal(err)
	}
	// The refused turn put nothing in place, so the change is still to make.
	if !res.ConfigChanged || !res.Restarted || fx.svc.Restarts["k3s.service"] != started+1 || turn.claims != 2 || turn.releases != 1 {
		t.Errorf("second Ensure: %+v, restarts %d, claims %d, releases %d; want the config changed and restarted once in its turn, the turn released",
			res, fx.svc.Restarts["k3s.service"]-started, turn.claims, turn.releases)
	}
	if _, err := os.Stat(fx.root.Path(RestartPendingPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pending marker stayed after the restart: %v", err)
	}
	if res, err := fx.mgr.Ensure(ctx, fx.join()); err != nil || res.Restarted || turn.claims != 2 {
		t.Errorf("third Ensure: %+v, %v, claims %d; want nothing to do", res, err, turn.claims)
	}
}

// A first start, an agent and a single server restart at once.
func TestRestartWithoutATurn(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	fx.mgr.turn = &fakeTurn{claim: func(int) error {
		t.Error("the rolling restart ran for a server that is no etcd member yet")
		return nil
	}}
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.root.Path(EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	fx.cluster.Nodes = fx.cluster.Nodes[1:2] // pi4-2 alone
	fx.cluster.K3s.Disable = append(fx.cluster.K3s.Disable, "metrics-server")
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || !res.Restarted {
		t.Errorf("single server: %+v, %v; want restarted at once", res, err)
	}
}

// fakeTurn counts claims and releases; claim decides the nth claim.
type fakeTurn struct {
	claims, releases int
	claim            func(n int) error
}

func (f *fakeTurn) Claim(context.Context, string) error {
	f.claims++
	return f.claim(f.claims)
}

func (f *fakeTurn) Release(context.Context, string) error {
	f.releases++
	return nil
}

func (f *fakeTurn) Fail(context.Context, string, string) error {
	f.releases++
	return nil
}
