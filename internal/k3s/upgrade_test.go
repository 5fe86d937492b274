package k3s

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/release"
)

const versionB = "v1.33.6+k3s1"

// events lists the recorder's event names with the version told.
func (r *recorder) names() []string {
	var out []string
	for _, e := range r.events {
		out = append(out, e.Event+" "+e.Version)
	}
	return out
}

func (fx *ensureFixture) binarySHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(fx.root.Path(p))
	if err != nil {
		return "missing"
	}
	return sha(data)
}

// A→B: the turn is claimed for B, the binary swapped inside it, and
// released once the server came back on B; A is kept as the previous binary.
func TestUpgradeKeepsThePreviousBinary(t *testing.T) {
	fx, rec := newMemberFixture(t)
	binA := fx.binarySHA(t, release.BinaryPath)
	fx.upgrade(t)
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || !res.BinaryChanged || !res.Restarted {
		t.Fatalf("Ensure: %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{"claim " + versionB, "restart ", "release " + versionB}, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := fx.binarySHA(t, release.PreviousPath); got != binA {
		t.Errorf("previous binary %s, want A %s", got, binA)
	}
	if fx.mgr.restartPending() {
		t.Error("the restart stayed pending")
	}
}

// B that does not come back — k3s fails to start, or it starts but its
// etcd member or Node never reports B within k3s.upgradeTimeout — is
// rolled back: A is put back and restarted, the turn records B's failure
// (and is passed on), and the next Ensure is refused the turn for B and
// changes nothing.
func TestUpgradeRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(fx *ensureFixture, rec *recorder)
		events []string
	}{
		{"exits at start", func(fx *ensureFixture, rec *recorder) {
			fx.svc.StartErr = errors.New("exit status 1")
			rec.onRestart = func(n int) {
				if n == 2 { // the restart on A works
					fx.svc.StartErr = nil
				}
			}
		}, []string{"claim " + versionB, "restart ", "restart ", "fail " + versionB}},
		{"never reports B", func(_ *ensureFixture, rec *recorder) {
			rec.release = func(ctx context.Context, version string) error {
				if version == "" {
					return nil
				}
				<-ctx.Done() // Node keeps reporting A, etcd unhealthy...
				return ctx.Err()
			}
		}, []string{"claim " + versionB, "restart ", "release " + versionB, "restart ", "fail " + versionB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, rec := newMemberFixture(t)
			fx.cluster.K3s.UpgradeTimeout.Duration = 200 * time.Millisecond
			binA := fx.binarySHA(t, release.BinaryPath)
			fx.upgrade(t)
			tc.break_(fx, rec)
			start := time.Now()
			_, err := fx.mgr.Ensure(context.Background(), fx.join())
			if !errors.Is(err, ErrRolledBack) {
				t.Fatalf("Ensure: %v, want %v", err, ErrRolledBack)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the rollback took %s: the bound was not kept", took)
			}
			if got := fx.binarySHA(t, release.BinaryPath); got != binA {
				t.Errorf("binary after the rollback %s, want A %s", got, binA)
			}
			if !fx.svc.Active["k3s.service"] {
				t.Error("k3s is not running after the rollback")
			}
			if diff := cmp.Diff(tc.events, rec.names()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if rec.failed[versionB] == "" {
				t.Errorf("the failure of %s was not recorded: %v", versionB, rec.failed)
			}
			restarts := fx.svc.Restarts["k3s.service"]
			if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err == nil {
				t.Fatal("the next Ensure went ahead with the failed version")
			}
			if got := fx.binarySHA(t, release.BinaryPath); got != binA || fx.svc.Restarts["k3s.service"] != restarts {
				t.Errorf("the refused Ensure changed k3s: binary %s, %d restarts", got, fx.svc.Restarts["k3s.service"]-restarts)
			}
		})
	}
}

// nodeagent stopped after B was put in place but before it came back: the
// pending record names B, so the next Ensure waits for B again (and would
// roll back), not for a plain restart.
func TestUpgradeInterruptedResumesAsUpgrade(t *testing.T) {
	fx, rec := newMemberFixture(t)
	fx.upgrade(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec.release = func(ctx context.Context, version string) error {
		cancel()
		return ctx.Err()
	}
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err == nil || errors.Is(err, ErrRolledBack) {
		t.Fatalf("Ensure stopped mid-upgrade: %v, want the interruption, no rollback", err)
	}
	rec.release, rec.events = nil, nil
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || res.BinaryChanged || !res.Restarted {
		t.Fatalf("next Ensure: %+v, %v; want a restart of the installed B", res, err)
	}
	if diff := cmp.Diff([]string{"claim " + versionB, "restart ", "release " + versionB}, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// After a rollback the cluster file goes back to A: nothing is installed
// or restarted, and the refused B leaves no restart behind.
func TestBackToTheInstalledVersionAfterARollback(t *testing.T) {
	fx, rec := newMemberFixture(t)
	fx.cluster.K3s.UpgradeTimeout.Duration = 100 * time.Millisecond
	a := fx.cluster.K3s.Version
	fx.upgrade(t)
	fx.svc.StartErr = errors.New("exit status 1")
	rec.onRestart = func(n int) {
		if n == 2 {
			fx.svc.StartErr = nil
		}
	}
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Ensure: %v, want the rollback", err)
	}
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err == nil {
		t.Fatal("the failed version went ahead")
	}
	fx.cluster.K3s.Version = a
	restarts := fx.svc.Restarts["k3s.service"]
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || res.Changed() || res.Restarted || fx.svc.Restarts["k3s.service"] != restarts {
		t.Errorf("Ensure back on %s: %+v, %v, %d restarts; want nothing to do", a, res, err, fx.svc.Restarts["k3s.service"]-restarts)
	}
}
