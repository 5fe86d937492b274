package serverwork

import (
	"errors"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestDecideRolloutClaim(t *testing.T) {
	failedB := &Rollout{Version: "v1.34.1+k3s1", Node: "pi4-1", Since: time.Unix(0, 0), Reason: "not back within 5m0s"}
	for _, tc := range []struct {
		name      string
		failed    *Rollout
		version   string
		wantClear bool
		refused   bool
	}{
		{"no failure, upgrade", nil, "v1.34.1+k3s1", false, false},
		{"no failure, plain restart", nil, "", false, false},
		{"the failed version", failedB, "v1.34.1+k3s1", false, true},
		{"a plain restart after a failure", failedB, "", false, false},
		{"another version clears it", failedB, "v1.34.2+k3s1", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear, err := decideRolloutClaim(tc.failed, tc.version)
			if clear != tc.wantClear || (err != nil) != tc.refused {
				t.Fatalf("decideRolloutClaim = %v, %v; want clear %v, refused %v", clear, err, tc.wantClear, tc.refused)
			}
			if err != nil && !errors.Is(err, ErrRolloutStopped) {
				t.Errorf("refusal %v is not ErrRolloutStopped", err)
			}
		})
	}
}

// A server down after its upgrade cannot renew the restart Lease: the
// longest upgrade wait must end before another server may take the turn.
func TestUpgradeTimeoutWithinTheRestartLease(t *testing.T) {
	if config.MaxUpgradeTimeout >= restartLeaseDuration {
		t.Errorf("k3s.upgradeTimeout may be %s, the restart Lease lapses after %s", config.MaxUpgradeTimeout, restartLeaseDuration)
	}
}
