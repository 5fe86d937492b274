package deb

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testJournal waits for the daemon's first phase in the journal as JSON and
// checks its structured fields, then greps everything journald holds for
// the token.
func testJournal(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	var entry map[string]any
	for entry == nil {
		out := n.sh(ctx, "journalctl -u nodeagent.service -o json --no-pager -q")
		entry = findEntry(out, "phase started")
		if entry == nil && time.Now().After(deadline) {
			t.Fatalf("no \"phase started\" entry in the journal within 30s:\n%s", out)
		}
		if entry == nil {
			n.pause(ctx)
		}
	}
	fields := []string{"PHASE", "NODE", "_SYSTEMD_UNIT", "PRIORITY"}
	want := map[string]any{"PHASE": "preflight", "NODE": n.Name(), "_SYSTEMD_UNIT": "nodeagent.service", "PRIORITY": "6"}
	got := map[string]any{}
	for _, f := range fields {
		got[f] = entry[f]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("journal fields of \"phase started\" (-want +got):\n%s", diff)
	}
	testNoTokenInJournal(t, n, st)
	for _, f := range []string{"token", "agent-token"} {
		if got := n.sh(ctx, "stat -c '%a %U' /etc/nodeagent/"+f); got != "600 root\n" {
			t.Errorf("%s file mode and owner = %q, want 600 root", f, got)
		}
	}
}

// testNoTokenInJournal greps every field of every entry of the container's
// journal (export format: -o json leaves out long and binary fields) for the
// token.
func testNoTokenInJournal(t *testing.T, n node, st *pkgState) {
	all := n.sh(context.Background(), "journalctl -o export --no-pager -q")
	if strings.Contains(all, st.token) || strings.Contains(all, st.agentTk) {
		t.Errorf("the journal contains a token")
	}
	if !strings.Contains(all, "_SYSTEMD_UNIT=nodeagent.service") {
		t.Errorf("the journal holds nothing of nodeagent.service: the grep for the token proves nothing")
	}
}

// findEntry returns the first journal entry (one JSON object a line) whose
// MESSAGE starts with msg.
func findEntry(jsonLines, msg string) map[string]any {
	for _, l := range strings.Split(jsonLines, "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		if m, ok := e["MESSAGE"].(string); ok && strings.HasPrefix(m, msg) {
			return e
		}
	}
	return nil
}

// pause waits one poll interval.
func (n node) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
}

// watchdogDropIn shortens the watchdog so a hang is detected in seconds,
// and the abort (SIGABRT stays pending on a stopped process) and the
// restart delay so the whole cycle fits a test.
const watchdogDropIn = "/etc/systemd/system/nodeagent.service.d/test-watchdog.conf"

func testWatchdog(t *testing.T, n node, _ *pkgState) {
	ctx := context.Background()
	n.sh(ctx, "mkdir -p "+filepath.Dir(watchdogDropIn)+" && printf '[Service]\\nWatchdogSec=3s\\nTimeoutAbortSec=2s\\nRestartSec=1s\\n' >"+watchdogDropIn+
		" && systemctl daemon-reload && systemctl restart nodeagent.service")
	t.Cleanup(func() {
		n.sh(context.Background(), "rm -rf "+filepath.Dir(watchdogDropIn)+" && systemctl daemon-reload && systemctl restart nodeagent.service")
	})
	// Two pings in a row show the daemon honours the short interval before
	// it is hung on purpose.
	first := n.waitUnit(ctx, "a first watchdog ping", 10*time.Second, func(m map[string]string) bool {
		return m["WatchdogTimestampMonotonic"] != "0" && m["WatchdogTimestampMonotonic"] != ""
	}, "WatchdogTimestampMonotonic", "MainPID", "NRestarts")
	n.waitUnit(ctx, "a second watchdog ping", 10*time.Second, func(m map[string]string) bool {
		return m["WatchdogTimestampMonotonic"] != first["WatchdogTimestampMonotonic"]
	}, "WatchdogTimestampMonotonic")
	pid, restarts := first["MainPID"], atoi(t, first["NRestarts"])
	n.sh(ctx, "kill -STOP "+pid)
	start := time.Now()
	after := n.waitUnit(ctx, "a restart by the watchdog", 30*time.Second, func(m map[string]string) bool {
		return m["ActiveState"] == "active" && m["MainPID"] != pid && m["MainPID"] != "0" && atoi(t, m["NRestarts"]) > restarts
	}, "ActiveState", "MainPID", "NRestarts")
	t.Logf("hung daemon (pid %s) replaced by pid %s in %s, NRestarts %d -> %s",
		pid, after["MainPID"], time.Since(start).Round(100*time.Millisecond), restarts, after["NRestarts"])
	// The restart resets Result; systemd's own journal line keeps the cause.
	if log := n.sh(ctx, "journalctl -u nodeagent.service --no-pager -q -o cat"); !strings.Contains(log, "Failed with result 'watchdog'") {
		t.Errorf("the journal does not say the watchdog restarted the daemon:\n%s", lastLines(log, 20))
	}
}

// testUpgrade installs the newer package over the running one: dpkg keeps
// the locally edited conffile (its packaged version did not change, so no
// prompt and no .dpkg-dist) and the daemon runs the new binary.
func testUpgrade(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	before := n.waitUnit(ctx, "the daemon running", 10*time.Second, func(m map[string]string) bool {
		return m["ActiveState"] == "active"
	}, "ActiveState", "MainPID")
	// Exec has no terminal: a conffile question would fail dpkg.
	if out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(st.debs[newVersion])); err != nil {
		t.Fatalf("dpkg -i of %s: %v\n%s", newVersion, err, out)
	}
	if got := n.sh(ctx, "cat /etc/nodeagent/cluster.yaml"); got != st.cluster {
		t.Errorf("the upgrade changed the edited cluster file (-want +got):\n%s", cmp.Diff(st.cluster, got))
	}
	if got := n.sh(ctx, "ls /etc/nodeagent"); got != "agent-token\ncluster.yaml\nmanifests.d\ntoken\n" {
		t.Errorf("/etc/nodeagent after the upgrade = %q, want only agent-token, cluster.yaml, manifests.d, token", got)
	}
	if got := n.sh(ctx, "nodeagent version"); !strings.HasPrefix(got, "nodeagent "+newVersion+" ") {
		t.Errorf("nodeagent version = %q, want %s", got, newVersion)
	}
	after := n.waitUnit(ctx, "the new daemon running", 30*time.Second, func(m map[string]string) bool {
		return m["ActiveState"] == "active" && m["MainPID"] != before["MainPID"] && m["MainPID"] != "0"
	}, "ActiveState", "MainPID")
	// A daemon still running the replaced file shows "(deleted)" here.
	// `nodeagent run` has handed over to nodeagentd in the same process.
	if exe := n.sh(ctx, "readlink /proc/"+after["MainPID"]+"/exe"); exe != "/usr/lib/nodeagent/nodeagentd\n" {
		t.Errorf("the restarted daemon runs %q, want /usr/lib/nodeagent/nodeagentd", exe)
	}
}

// testPurge removes the package with its configuration and compares the
// file list with the one before the install. The only difference allowed is
// the token: the admin put it there, so nodeagent must keep it (and the
// directory holding it).
func testPurge(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	if out, err := n.Exec(ctx, "dpkg", "--purge", "nodeagent"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	added, removed, changed := listDiff(withoutPrivateTmp(st.before), withoutPrivateTmp(n.fileList(ctx)))
	want := struct{ Added, Removed, Changed []string }{
		Added: []string{"/etc/nodeagent d 755", "/etc/nodeagent/agent-token f 600", "/etc/nodeagent/token f 600"},
	}
	got := struct{ Added, Removed, Changed []string }{added, removed, changed}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("file list after the purge against before the install (-want +got):\n%s", diff)
	}
	if out, _ := n.Exec(ctx, "systemctl", "show", "-p", "LoadState", "nodeagent.service"); out != "LoadState=not-found\n" {
		t.Errorf("after the purge systemd still knows nodeagent.service: %q", out)
	}
}

// withoutPrivateTmp drops the PrivateTmp= directories systemd keeps for
// running services (systemd-timedated, bus-activated by the daemon's clock
// check, exits on its own some time later): systemd's, not nodeagent's.
func withoutPrivateTmp(files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for p, a := range files {
		if !strings.HasPrefix(p, "/var/tmp/systemd-private-") {
			out[p] = a
		}
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	i, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return i
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
