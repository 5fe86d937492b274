package agent

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/nodereport"
)

// The condition is decided from the daemon's state: a restart turn first,
// then a failed pass (named by its phase), then a missing disk.
func TestNodeConditionDecision(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name      string
		r         *nodeReport
		want      nodereport.Condition
		wantKnown bool
	}{
		{"before the first pass", &nodeReport{}, nodereport.Condition{}, false},
		{"in step", &nodeReport{passDone: true}, nodereport.Condition{OK: true, Reason: "Provisioned", Message: "the last reconcile succeeded"}, true},
		{"disk missing", &nodeReport{passDone: true, missing: map[string]string{"/mnt/hd1": "/mnt/hd1: no block device matches label=hd1"}},
			nodereport.Condition{Reason: "DiskMissing", Message: "/mnt/hd1: no block device matches label=hd1"}, true},
		{"firewall", &nodeReport{passDone: true, passErr: &PhaseError{Phase: StepFirewall, Err: errors.New("ufw: exit status 1")}},
			nodereport.Condition{Reason: "FirewallDrift", Message: "ufw: exit status 1"}, true},
		{"quorum", &nodeReport{passDone: true, passErr: &PhaseError{Phase: StepQuorum, Err: errors.New("1/3 voters healthy")}},
			nodereport.Condition{Reason: "WaitingForQuorum", Message: "1/3 voters healthy"}, true},
		{"other phase, wrapped", &nodeReport{passDone: true, passErr: fmt.Errorf("pass: %w", &PhaseError{Phase: StepK3s, Err: errors.New("download failed")})},
			nodereport.Condition{Reason: "K3sFailed", Message: "download failed"}, true},
		{"no phase", &nodeReport{passDone: true, passErr: errors.New("lock held")},
			nodereport.Condition{Reason: "ReconcileFailed", Message: "lock held"}, true},
		{"restart turn wins", &nodeReport{upgrading: true, passDone: true, passErr: errors.New("x")},
			nodereport.Condition{Reason: "UpgradeInProgress", Message: "restarting k3s in this server's turn of a rolling restart"}, true},
		{"long cause", &nodeReport{passDone: true, passErr: &PhaseError{Phase: StepRegister, Err: errors.New(long)}},
			nodereport.Condition{Reason: "RegisterFailed", Message: shorten(long, maxCause)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := tt.r.condition()
			if known != tt.wantKnown {
				t.Errorf("known = %v, want %v", known, tt.wantKnown)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("condition (-want +got):\n%s", diff)
			}
			if n := len([]rune(got.Message)); n > maxCause {
				t.Errorf("message has %d characters, want at most %d", n, maxCause)
			}
		})
	}
}

// The ManifestsApplied message is read back by `nodeagent status --cluster`.
func TestManifestsMessageFormat(t *testing.T) {
	want := "applied 41 objects: 0 created, 2 updated, 39 unchanged, 0 failed"
	if got := ManifestsMessage(41, 0, 2, 39, 0); got != want {
		t.Errorf("ManifestsMessage = %q, want %q", got, want)
	}
}
