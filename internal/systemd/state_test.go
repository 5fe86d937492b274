package systemd

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnitState(t *testing.T) {
	tests := []struct {
		name      string
		unit, svc map[string]any
		want      UnitState
	}{
		{
			name: "running service",
			unit: map[string]any{"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled"},
			svc:  map[string]any{"Result": "success", "StatusText": "serving", "MainPID": uint32(42)},
			want: UnitState{Name: "x.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
				UnitFileState: "enabled", Result: "success", StatusText: "serving", MainPID: 42},
		},
		{
			name: "unknown unit has no service properties",
			unit: map[string]any{"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""},
			want: UnitState{Name: "x.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead"},
		},
		{
			name: "wrong types are ignored",
			unit: map[string]any{"LoadState": 7},
			svc:  map[string]any{"MainPID": int64(3)},
			want: UnitState{Name: "x.service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unitState("x.service", tt.unit, tt.svc)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unitState (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		state UnitState
		want  waitVerdict
	}{
		{UnitState{LoadState: "loaded", ActiveState: "active"}, waitDone},
		{UnitState{LoadState: "loaded", ActiveState: "activating"}, waitMore},
		{UnitState{LoadState: "loaded", ActiveState: "deactivating"}, waitMore},
		{UnitState{LoadState: "loaded", ActiveState: "inactive"}, waitMore},
		{UnitState{LoadState: "loaded", ActiveState: "reloading"}, waitMore},
		{UnitState{LoadState: "loaded", ActiveState: "failed"}, waitFailed},
		{UnitState{LoadState: "not-found", ActiveState: "inactive"}, waitFailed},
		{UnitState{LoadState: "masked", ActiveState: "inactive"}, waitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.state.LoadState+"/"+tt.state.ActiveState, func(t *testing.T) {
			if got := verdict(tt.state); got != tt.want {
				t.Errorf("verdict(%+v) = %d, want %d", tt.state, got, tt.want)
			}
		})
	}
}

func TestUnitErrorMessage(t *testing.T) {
	err := error(&UnitError{
		Op: "start", Reason: "job failed",
		State:   UnitState{Name: "k3s.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code"},
		Journal: []string{"line one", "line two"},
	})
	want := "start k3s.service: job failed: k3s.service: failed/failed (load loaded, result exit-code); journal:\n  line one\n  line two"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Error() (-want +got):\n%s", diff)
	}
	if !errors.Is(err, ErrUnitFailed) {
		t.Errorf("errors.Is(%v, ErrUnitFailed) = false", err)
	}
}

func TestUnitStateString(t *testing.T) {
	s := UnitState{Name: "a.service", LoadState: "loaded", ActiveState: "active", SubState: "running", StatusText: "up"}
	if got := s.String(); !strings.Contains(got, `status "up"`) || strings.Contains(got, "result") {
		t.Errorf("String() = %q, want the status and no empty result", got)
	}
}
