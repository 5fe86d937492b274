package logging

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// journaldNSEnv marks the copy of the test binary that runs inside a private
// mount namespace with its own journald on a tmpfs /run: the machine's own
// journal (if any) is never written.
const journaldNSEnv = "NODEAGENT_JOURNALD_NS"

const journaldBinary = "/lib/systemd/systemd-journald"

// TestRealJournald sends entries through the journal core to a real
// systemd-journald and reads them back with journalctl: the log line stays
// the MESSAGE even when a field is named "message", and every entry logged
// while a phase runs carries PHASE, whichever logger logged it.
func TestRealJournald(t *testing.T) {
	if os.Getenv(journaldNSEnv) == "" {
		runInJournaldNamespace(t)
		return
	}
	startJournald(t)

	phase := &Phase{}
	log := phase.Logger(zap.New(NewJournalCore(zapcore.InfoLevel)))
	other := log.With(zap.String("component", "k3s")) // another package's logger
	run := fmt.Sprint(time.Now().UnixNano())
	log = log.With(zap.String("run", run))
	other = other.With(zap.String("run", run))

	log.Info("before the phase", zap.String("message", "a field named message"))
	phase.Set("k3s")
	log.Info("phase started")
	other.Warn("waiting for the unit", zap.String("priority", "high"))
	phase.Set("")
	other.Info("after the phase")

	want := map[string]map[string]string{
		"before the phase message=a field named message run=" + run: {"F_MESSAGE": "a field named message", "PRIORITY": "6", "PHASE": ""},
		"phase started phase=k3s run=" + run:                        {"PHASE": "k3s", "PRIORITY": "6"},
		"waiting for the unit component=k3s phase=k3s priority=high run=" + run: {
			"PHASE": "k3s", "PRIORITY": "4", "F_PRIORITY": "high", "COMPONENT": "k3s",
		},
		"after the phase component=k3s run=" + run: {"PHASE": "", "COMPONENT": "k3s"},
	}
	var got map[string]map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = readJournal(t, run)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // journald stores entries a moment later
	}
	for msg, fields := range want {
		entry, ok := got[msg]
		if !ok {
			t.Errorf("no journal entry with MESSAGE=%q; got messages %v", msg, keys(got))
			continue
		}
		for k, v := range fields {
			if entry[k] != v {
				t.Errorf("entry %q: %s=%q, want %q", msg, k, entry[k], v)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d entries of this run, want %d (a second MESSAGE= splits or hides a line): %v", len(got), len(want), keys(got))
	}
}

// readJournal returns the fields of this run's entries by MESSAGE.
func readJournal(t *testing.T, run string) map[string]map[string]string {
	t.Helper()
	out, err := exec.Command("journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager", "RUN="+run).Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	got := map[string]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("journalctl line %q: %v", line, err)
		}
		fields := map[string]string{}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				fields[k] = v
			case []any: // a field sent twice: keep all, so the test sees it
				fields[k] = fmt.Sprint(v...)
			}
		}
		got[fields["MESSAGE"]] = fields
	}
	return got
}

func keys(m map[string]map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startJournald mounts a tmpfs over /run and /var/log (this process is in a
// private mount namespace) and starts journald on it.
func startJournald(t *testing.T) {
	t.Helper()
	for _, dir := range []string{"/run", "/var/log"} {
		if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs %s: %v: %s", dir, err, out)
		}
	}
	cmd := exec.Command(journaldBinary)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting journald: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !journal.Enabled() {
		if time.Now().After(deadline) {
			t.Fatal("journald's socket did not appear within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runInJournaldNamespace reruns this test in a private mount namespace.
func runInJournaldNamespace(t *testing.T) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"unshare", "mount", "journalctl", journaldBinary} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("needs %v (Debian: systemd, util-linux)", missing)
		if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), journaldNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a private mount namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test did not run in the namespace:\n%s", out)
	}
	t.Logf("in a private mount namespace:\n%s", out)
}
