package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/serverwork"
)

func TestWriteRollout(t *testing.T) {
	since := time.Date(2026, 12, 3, 4, 5, 6, 0, time.Local)
	failed := &serverwork.Rollout{Version: "v1.34.1+k3s1", Node: "pi4-1", Since: since, Reason: "not back within 5m0s: exit status 1"}
	for _, tc := range []struct {
		name string
		r    *serverwork.RolloutStatus
		want string
		// wanted is the cluster file's k3s.version.
		wanted string
	}{
		{"none", &serverwork.RolloutStatus{}, "", "v1.34.1+k3s1"},
		{"in progress", &serverwork.RolloutStatus{InProgress: &serverwork.Rollout{Version: "v1.34.1+k3s1", Node: "pi4-2", Since: since}},
			"rollout   pi4-2 upgrading k3s to v1.34.1+k3s1 since 2026-12-03 04:05:06\n", "v1.34.1+k3s1"},
		{"stopped", &serverwork.RolloutStatus{Failed: failed},
			"rollout   STOPPED: k3s v1.34.1+k3s1 did not come back on pi4-1 (2026-12-03 04:05:06): not back within 5m0s: exit status 1; pi4-1 runs its previous k3s again, the servers not upgraded stay on theirs; set another k3s.version\n", "v1.34.1+k3s1"},
		{"a failure of a version no longer wanted", &serverwork.RolloutStatus{Failed: failed}, "", "v1.34.2+k3s1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeRollout(&b, tc.r, tc.wanted)
			if b.String() != tc.want {
				t.Errorf("got %q\nwant %q", b.String(), tc.want)
			}
		})
	}
	var b strings.Builder
	writeK3s(&b, "v1.34.1+k3s1", "v1.33.5+k3s1", "active")
	if want := "k3s       v1.34.1+k3s1 (installed: v1.33.5+k3s1), unit: active\n"; b.String() != want {
		t.Errorf("k3s line %q, want %q", b.String(), want)
	}
}
