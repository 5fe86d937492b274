package systemd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// buildNotifyd builds testdata/notifyd statically, so it runs in the
// container whatever the host's libc.
func buildNotifyd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "notifyd")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/notifyd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building notifyd: %v\n%s", err, out)
	}
	return bin
}

// busWatcher reads systemd's Reloading and JobRemoved signals on a
// connection of its own, so the test observes what systemd did rather than
// what Manager says it did.
type busWatcher struct {
	signals chan *dbus.Signal
	reloads int
}

func watchBus(t *testing.T, socket string) *busWatcher {
	t.Helper()
	d := &dialer{ctx: context.Background(), address: "unix:path=" + socket}
	conn, err := d.dial()
	if err != nil {
		t.Fatalf("dialing container bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, member := range []string{"Reloading", "JobRemoved"} {
		if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.systemd1.Manager"),
			dbus.WithMatchMember(member)); err != nil {
			t.Fatal(err)
		}
	}
	obj := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	if err := obj.Call("org.freedesktop.systemd1.Manager.Subscribe", 0).Err; err != nil {
		t.Fatal(err)
	}
	w := &busWatcher{signals: make(chan *dbus.Signal, 256)}
	conn.Signal(w.signals)
	return w
}

// reloadsBeforeJob reads signals until a JobRemoved for unit arrives and
// returns the number of reloads seen so far. systemd sends its signals in
// order and the bus keeps that order per receiver, so every reload that
// happened before the job is counted.
func (w *busWatcher) reloadsBeforeJob(t *testing.T, unit string) int {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case sig := <-w.signals:
			switch {
			case strings.HasSuffix(sig.Name, ".Reloading") && len(sig.Body) == 1 && sig.Body[0] == true:
				w.reloads++
			case strings.HasSuffix(sig.Name, ".JobRemoved") && len(sig.Body) == 4 && sig.Body[2] == unit:
				return w.reloads
			}
		case <-timeout:
			t.Fatalf("no JobRemoved for %s within 30s", unit)
		}
	}
}

const okUnit = `[Unit]
Description=notifyd stand-in that becomes ready

[Service]
Type=notify
ExecStart=/usr/local/bin/notifyd -status serving

[Install]
WantedBy=multi-user.target
`

const failingUnit = `[Unit]
Description=notifyd stand-in that exits 1

[Service]
Type=notify
ExecStart=/usr/local/bin/notifyd -exit 1
`

// neverReadyUnit starts but never sends READY=1, so it stays activating.
const neverReadyUnit = `[Unit]
Description=never ready

[Service]
Type=notify
ExecStart=/bin/sleep infinity
TimeoutStartSec=infinity
`
