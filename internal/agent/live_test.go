package agent

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// The daemon's reports reach /run/nodeagent/status.json, which `nodeagent
// status` reads while the daemon's process lives.
func TestLiveStatusFollowsTheReports(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	rep := &recordingReporter{}
	l := newLiveReporter(rep, root, host.RealClock{})
	if _, running, err := ReadLive(root); err != nil || running {
		t.Fatalf("before any report: running %v, %v; want no daemon", running, err)
	}
	l.PhaseStarted("k3s")
	l.Status("waiting for pi4-1's etcd member")
	if err := os.MkdirAll(root.Path(fmt.Sprintf("/proc/%d", os.Getpid())), 0o755); err != nil {
		t.Fatal(err)
	}
	v, running, err := ReadLive(root)
	if err != nil || !running {
		t.Fatalf("ReadLive: running %v, %v", running, err)
	}
	if v.Phase != "k3s" || v.Status != "waiting for pi4-1's etcd member" || time.Since(v.PhaseSince) > time.Minute {
		t.Errorf("live = %+v, want phase k3s with the wait as its status", v)
	}
	l.PhaseDone("k3s", time.Second, nil)
	if v, _, _ := ReadLive(root); v.Phase != "" {
		t.Errorf("after the phase: phase %q, want none", v.Phase)
	}
	if len(rep.events) != 3 {
		t.Errorf("reports passed on: %v, want all three", rep.events)
	}
}
