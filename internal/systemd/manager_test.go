package systemd

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// fixture is one container's systemd and a Manager connected to it; the
// subtests of TestManagerInContainer run in order on it.
type fixture struct {
	ctx context.Context
	c   *nspawn.Container
	m   *Manager
	w   *busWatcher
}

// TestManagerInContainer drives a real systemd (booted with nspawn) over
// its D-Bus from the host, as nodeagent drives the Pi's.
func TestManagerInContainer(t *testing.T) {
	start := time.Now()
	c := nspawn.Boot(t, nspawn.Options{PrivateNetwork: true})
	if err := c.CopyIn(buildNotifyd(t), "/usr/local/bin/notifyd"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := New(ctx, zaptest.NewLogger(t), c.Root(), WithBusSocket(c.BusSocket()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f := &fixture{ctx: ctx, c: c, m: m, w: watchBus(t, c.BusSocket())}
	steps := []struct {
		name string
		fn   func(*testing.T, *fixture)
	}{
		{"install twice reloads once", testInstallTwice},
		{"type=notify unit is active with its status", testNotifyActive},
		{"enable once", testEnableOnce},
		{"restart changes the main pid", testRestart},
		{"failing unit reports state and journal", testFailingUnit},
		{"wait times out on a unit that never gets ready", testWaitTimeout},
		{"stop", testStop},
		{"unknown unit", testUnknownUnit},
		{"time synced matches the kernel clock", testTimeSynced},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.fn(t, f) }) {
			break // later steps build on earlier ones
		}
	}
	t.Logf("figure: container boot %s, whole test %s", c.BootTime().Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func testInstallTwice(t *testing.T, f *fixture) {
	for i, want := range []bool{true, false} {
		changed, err := f.m.InstallUnit(f.ctx, "ok.service", []byte(okUnit))
		if err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Errorf("InstallUnit #%d changed = %v, want %v", i+1, changed, want)
		}
	}
	// The start's JobRemoved comes after any reload the installs caused.
	if err := f.m.Start(f.ctx, "ok.service"); err != nil {
		t.Fatal(err)
	}
	if got := f.w.reloadsBeforeJob(t, "ok.service"); got != 1 {
		t.Errorf("daemon-reloads = %d, want 1", got)
	}
	data, err := os.ReadFile(f.c.Path(UnitPath("ok.service")))
	if err != nil || string(data) != okUnit {
		t.Errorf("unit file in container = %q, %v; want the installed content", data, err)
	}
	if got, err := f.m.InstalledUnit("ok.service"); err != nil || string(got) != okUnit {
		t.Errorf("InstalledUnit = %q, %v; want the installed content", got, err)
	}
}

func testNotifyActive(t *testing.T, f *fixture) {
	if err := f.m.WaitActive(f.ctx, "ok.service", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := f.m.State(f.ctx, "ok.service")
	if err != nil {
		t.Fatal(err)
	}
	want := UnitState{Name: "ok.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		UnitFileState: "disabled", Result: "success", StatusText: "serving", MainPID: st.MainPID}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("State (-want +got):\n%s", diff)
	}
	if st.MainPID == 0 {
		t.Error("MainPID = 0 for a running service")
	}
}

func testEnableOnce(t *testing.T, f *fixture) {
	for i, want := range []bool{true, false} {
		changed, err := f.m.Enable(f.ctx, "ok.service")
		if err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Errorf("Enable #%d changed = %v, want %v", i+1, changed, want)
		}
	}
	if _, err := os.Lstat(f.c.Path("/etc/systemd/system/multi-user.target.wants/ok.service")); err != nil {
		t.Errorf("wants symlink: %v", err)
	}
	if st, err := f.m.State(f.ctx, "ok.service"); err != nil || st.UnitFileState != "enabled" {
		t.Errorf("UnitFileState = %q, %v; want enabled", st.UnitFileState, err)
	}
}

func testRestart(t *testing.T, f *fixture) {
	before, err := f.m.State(f.ctx, "ok.service")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Restart(f.ctx, "ok.service"); err != nil {
		t.Fatal(err)
	}
	after, err := f.m.State(f.ctx, "ok.service")
	if err != nil {
		t.Fatal(err)
	}
	if after.ActiveState != "active" || after.MainPID == 0 || after.MainPID == before.MainPID {
		t.Errorf("after restart: %s pid %d, before pid %d; want active with a new pid", after, after.MainPID, before.MainPID)
	}
}

func testFailingUnit(t *testing.T, f *fixture) {
	if _, err := f.m.InstallUnit(f.ctx, "bad.service", []byte(failingUnit)); err != nil {
		t.Fatal(err)
	}
	err := f.m.Start(f.ctx, "bad.service")
	checkUnitError(t, err, "failed", "exit-code")
	err = f.m.WaitActive(f.ctx, "bad.service", 10*time.Second)
	checkUnitError(t, err, "failed", "exit-code")
}

func testWaitTimeout(t *testing.T, f *fixture) {
	if _, err := f.m.InstallUnit(f.ctx, "slow.service", []byte(neverReadyUnit)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Exec(f.ctx, "systemctl", "start", "--no-block", "slow.service"); err != nil {
		t.Fatal(err)
	}
	// Each answer while waiting marks progress, so the daemon's watchdog
	// lets a long wait for k3s go on (issue #22, item 2).
	var marks atomic.Int32
	ctx := host.WithProgress(f.ctx, func() { marks.Add(1) })
	err := f.m.WaitActive(ctx, "slow.service", 2*time.Second)
	if marks.Load() < 2 {
		t.Errorf("WaitActive marked progress %d times in 2s of waiting, want one per poll", marks.Load())
	}
	var ue *UnitError
	if !errors.As(err, &ue) {
		t.Fatalf("WaitActive = %v, want a *UnitError", err)
	}
	if ue.State.ActiveState != "activating" || !strings.Contains(ue.Reason, "not active after 2s") {
		t.Errorf("WaitActive error = %v, want activating and a timeout reason", err)
	}
	if err := f.m.Stop(f.ctx, "slow.service"); err != nil {
		t.Fatal(err)
	}
}

func testStop(t *testing.T, f *fixture) {
	if err := f.m.Stop(f.ctx, "ok.service"); err != nil {
		t.Fatal(err)
	}
	st, err := f.m.State(f.ctx, "ok.service")
	if err != nil || st.ActiveState != "inactive" || st.MainPID != 0 {
		t.Errorf("after stop: %s pid %d, %v; want inactive, no pid", st, st.MainPID, err)
	}
}

func testUnknownUnit(t *testing.T, f *fixture) {
	st, err := f.m.State(f.ctx, "nonexistent.service")
	if err != nil || st.LoadState != "not-found" {
		t.Errorf("State(nonexistent) = %s, %v; want not-found", st, err)
	}
}

func testTimeSynced(t *testing.T, f *fixture) {
	got, err := f.m.TimeSynced(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// timedated's ntp_synced(): adjtimex maxerror below 16 s.
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		t.Fatal(err)
	}
	if want := tx.Maxerror < 16000000; got != want {
		t.Errorf("TimeSynced = %v, want %v (maxerror %d)", got, want, tx.Maxerror)
	}
}

// checkUnitError asserts err is a *UnitError for a failed unit whose
// journal tail made it into the error.
func checkUnitError(t *testing.T, err error, active, result string) {
	t.Helper()
	var ue *UnitError
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v, want a *UnitError", err)
	}
	if ue.State.ActiveState != active || ue.State.Result != result {
		t.Errorf("error state = %s, want %s with result %s", ue.State, active, result)
	}
	journal := strings.Join(ue.Journal, "\n")
	if !strings.Contains(journal, "failing on purpose") && !strings.Contains(journal, "status=1/FAILURE") {
		t.Errorf("error journal = %q, want the unit's output or exit status", journal)
	}
}
