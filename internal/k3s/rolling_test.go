package k3s

import (
	"context"
	"errors"
	"os"
	"testing"
)

// A change on a server that already is an etcd member goes through the
// rolling restart, which decides when restart runs; a refused turn is
// remembered, so the next Ensure restarts although the files are in place.
func TestRestartOfAnEtcdMemberWaitsItsTurn(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx); err != nil { // first start: no etcd data yet
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.root.Path(EtcdDataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	started := fx.svc.Restarts["k3s.service"]
	var turns int
	var pendingDuringTurn bool
	refuse := errors.New("pi5 unhealthy")
	fx.mgr.RollingRestart = func(ctx context.Context, restart func(context.Context) error) error {
		turns++
		_, err := os.Stat(fx.root.Path(RestartPendingPath))
		pendingDuringTurn = err == nil
		if turns == 1 {
			return refuse
		}
		return restart(ctx)
	}
	fx.cluster.K3s.Disable = append(fx.cluster.K3s.Disable, "metrics-server")
	if _, err := fx.mgr.Ensure(ctx); !errors.Is(err, refuse) {
		t.Fatalf("Ensure with the turn refused: err = %v, want it passed on", err)
	}
	if !pendingDuringTurn || fx.svc.Restarts["k3s.service"] != started {
		t.Fatalf("pending marker during the turn %v, restarts %d; want true and none", pendingDuringTurn, fx.svc.Restarts["k3s.service"]-started)
	}
	res, err := fx.mgr.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() || !res.Restarted || fx.svc.Restarts["k3s.service"] != started+1 || turns != 2 {
		t.Errorf("second Ensure: %+v, restarts %d, turns %d; want an unchanged tree restarted once in its turn", res, fx.svc.Restarts["k3s.service"]-started, turns)
	}
	if _, err := os.Stat(fx.root.Path(RestartPendingPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pending marker stayed after the restart: %v", err)
	}
	if res, err := fx.mgr.Ensure(ctx); err != nil || res.Restarted || turns != 2 {
		t.Errorf("third Ensure: %+v, %v, turns %d; want nothing to do", res, err, turns)
	}
}

// A first start, an agent and a single server restart at once.
func TestRestartWithoutATurn(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	fx.mgr.RollingRestart = func(context.Context, func(context.Context) error) error {
		t.Error("the rolling restart ran for a server that is no etcd member yet")
		return nil
	}
	if _, err := fx.mgr.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.root.Path(EtcdDataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	fx.cluster.Nodes = fx.cluster.Nodes[1:2] // pi4-2 alone
	fx.cluster.K3s.Disable = append(fx.cluster.K3s.Disable, "metrics-server")
	res, err := fx.mgr.Ensure(context.Background())
	if err != nil || !res.Restarted {
		t.Errorf("single server: %+v, %v; want restarted at once", res, err)
	}
}
