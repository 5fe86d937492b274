package k3s

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckSkew(t *testing.T) {
	for _, tc := range []struct {
		name, have, want string
		refused          bool
	}{
		{"same version", "v1.33.5+k3s1", "v1.33.5+k3s1", false},
		{"patch up", "v1.33.5+k3s1", "v1.33.6+k3s1", false},
		{"patch up over several", "v1.33.1+k3s1", "v1.33.9+k3s1", false},
		{"k3s rebuild of the same patch", "v1.33.5+k3s1", "v1.33.5+k3s2", false},
		{"minor+1", "v1.33.5+k3s1", "v1.34.1+k3s1", false},
		{"minor+1 to an older patch number", "v1.33.9+k3s2", "v1.34.0+k3s1", false},
		{"minor+2", "v1.33.5+k3s1", "v1.35.0+k3s1", true},
		{"patch down", "v1.33.6+k3s1", "v1.33.5+k3s1", true},
		{"minor down", "v1.34.1+k3s1", "v1.33.9+k3s1", true},
		{"k3s suffix down", "v1.33.5+k3s2", "v1.33.5+k3s1", true},
		{"suffix compared as a number", "v1.33.5+k3s9", "v1.33.5+k3s10", false},
		{"minor compared as a number", "v1.9.0+k3s1", "v1.10.0+k3s1", false},
		{"major change", "v1.33.5+k3s1", "v2.0.0+k3s1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSkew(tc.have, tc.want)
			if (err != nil) != tc.refused {
				t.Fatalf("CheckSkew(%s, %s) = %v, want refused %v", tc.have, tc.want, err, tc.refused)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.have) || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("error %q does not name both versions", err)
			}
		})
	}
}

func TestCheckSkewBadVersions(t *testing.T) {
	for _, tc := range [][2]string{{"1.33.5", "v1.33.5+k3s1"}, {"v1.33.5+k3s1", "v1.33+k3s1"}, {"v1.33.5+k3s1", "latest"}} {
		if err := CheckSkew(tc[0], tc[1]); err == nil {
			t.Errorf("CheckSkew(%q, %q) accepted a malformed version", tc[0], tc[1])
		}
	}
}

// A cluster file asking for a downgrade or a jump of two minor versions is
// refused by Ensure and PlanLive, naming both versions, and nothing on the
// host changes: no download, no staged file, no restart.
func TestEnsureRefusesSkew(t *testing.T) {
	for _, want := range []string{"v1.33.4+k3s1", "v1.35.0+k3s1"} {
		t.Run(want, func(t *testing.T) {
			fx := newEnsureFixture(t, 4096)
			ctx := context.Background()
			if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
				t.Fatal(err)
			}
			installed := fx.cluster.K3s.Version
			fx.release(t, want, payload(9, 4096))
			before := snapshot(t, fx.root.Path("/"))
			restarts := fx.svc.Restarts["k3s.service"]
			_, err := fx.mgr.Ensure(ctx, fx.join())
			if err == nil || !strings.Contains(err.Error(), installed) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Ensure: %v; want a refusal naming %s and %s", err, installed, want)
			}
			if diff := cmp.Diff(before, snapshot(t, fx.root.Path("/"))); diff != "" || fx.svc.Restarts["k3s.service"] != restarts {
				t.Errorf("the refused Ensure changed the host (restarts %d):\n%s", fx.svc.Restarts["k3s.service"]-restarts, diff)
			}
			if _, err := fx.mgr.PlanLive(ctx); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("PlanLive: %v; want the refusal", err)
			}
		})
	}
}

// A patch and a minor upgrade go ahead.
func TestEnsureAllowsUpgrade(t *testing.T) {
	fx := newEnsureFixture(t, 4096)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"v1.33.6+k3s1", "v1.34.0+k3s1"} {
		fx.release(t, v, payload(byte(10+i), 4096))
		if res, err := fx.mgr.Ensure(ctx, fx.join()); err != nil || !res.BinaryChanged {
			t.Fatalf("upgrade to %s: %+v, %v", v, res, err)
		}
		if got, _, _ := fx.mgr.installer.InstalledVersion(); got != v {
			t.Errorf("installed version %q, want %s", got, v)
		}
	}
}
