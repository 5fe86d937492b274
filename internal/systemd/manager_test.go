package systemd

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

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
	w := watchBus(t, c.BusSocket())

	t.Run("install twice reloads once", func(t *testing.T) {
		for i, want := range []bool{true, false} {
			changed, err := m.InstallUnit(ctx, "ok.service", []byte(okUnit))
			if err != nil {
				t.Fatal(err)
			}
			if changed != want {
				t.Errorf("InstallUnit #%d changed = %v, want %v", i+1, changed, want)
			}
		}
		// The start's JobRemoved comes after any reload the installs caused.
		if err := m.Start(ctx, "ok.service"); err != nil {
			t.Fatal(err)
		}
		if got := w.reloadsBeforeJob(t, "ok.service"); got != 1 {
			t.Errorf("daemon-reloads = %d, want 1", got)
		}
		data, err := os.ReadFile(c.Path(UnitPath("ok.service")))
		if err != nil || string(data) != okUnit {
			t.Errorf("unit file in container = %q, %v; want the installed content", data, err)
		}
	})

	t.Run("type=notify unit is active with its status", func(t *testing.T) {
		if err := m.WaitActive(ctx, "ok.service", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := m.State(ctx, "ok.service")
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
	})

	t.Run("enable once", func(t *testing.T) {
		for i, want := range []bool{true, false} {
			changed, err := m.Enable(ctx, "ok.service")
			if err != nil {
				t.Fatal(err)
			}
			if changed != want {
				t.Errorf("Enable #%d changed = %v, want %v", i+1, changed, want)
			}
		}
		if _, err := os.Lstat(c.Path("/etc/systemd/system/multi-user.target.wants/ok.service")); err != nil {
			t.Errorf("wants symlink: %v", err)
		}
		if st, err := m.State(ctx, "ok.service"); err != nil || st.UnitFileState != "enabled" {
			t.Errorf("UnitFileState = %q, %v; want enabled", st.UnitFileState, err)
		}
	})

	t.Run("restart changes the main pid", func(t *testing.T) {
		before, err := m.State(ctx, "ok.service")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Restart(ctx, "ok.service"); err != nil {
			t.Fatal(err)
		}
		after, err := m.State(ctx, "ok.service")
		if err != nil {
			t.Fatal(err)
		}
		if after.ActiveState != "active" || after.MainPID == 0 || after.MainPID == before.MainPID {
			t.Errorf("after restart: %s pid %d, before pid %d; want active with a new pid", after, after.MainPID, before.MainPID)
		}
	})

	t.Run("failing unit reports state and journal", func(t *testing.T) {
		if _, err := m.InstallUnit(ctx, "bad.service", []byte(failingUnit)); err != nil {
			t.Fatal(err)
		}
		err := m.Start(ctx, "bad.service")
		checkUnitError(t, err, "failed", "exit-code")
		err = m.WaitActive(ctx, "bad.service", 10*time.Second)
		checkUnitError(t, err, "failed", "exit-code")
	})

	t.Run("wait times out on a unit that never gets ready", func(t *testing.T) {
		if _, err := m.InstallUnit(ctx, "slow.service", []byte(neverReadyUnit)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "systemctl", "start", "--no-block", "slow.service"); err != nil {
			t.Fatal(err)
		}
		err := m.WaitActive(ctx, "slow.service", 2*time.Second)
		var ue *UnitError
		if !errors.As(err, &ue) {
			t.Fatalf("WaitActive = %v, want a *UnitError", err)
		}
		if ue.State.ActiveState != "activating" || !strings.Contains(ue.Reason, "not active after 2s") {
			t.Errorf("WaitActive error = %v, want activating and a timeout reason", err)
		}
		if err := m.Stop(ctx, "slow.service"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stop", func(t *testing.T) {
		if err := m.Stop(ctx, "ok.service"); err != nil {
			t.Fatal(err)
		}
		st, err := m.State(ctx, "ok.service")
		if err != nil || st.ActiveState != "inactive" || st.MainPID != 0 {
			t.Errorf("after stop: %s pid %d, %v; want inactive, no pid", st, st.MainPID, err)
		}
	})

	t.Run("unknown unit", func(t *testing.T) {
		st, err := m.State(ctx, "nonexistent.service")
		if err != nil || st.LoadState != "not-found" {
			t.Errorf("State(nonexistent) = %s, %v; want not-found", st, err)
		}
	})

	t.Run("time synced matches the kernel clock", func(t *testing.T) {
		got, err := m.TimeSynced(ctx)
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
	})
	t.Logf("container boot %s, whole test %s", c.BootTime().Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
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
