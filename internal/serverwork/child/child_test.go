package child

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/logging"
)

func TestReportLinesRoundTrip(t *testing.T) {
	var b bytes.Buffer
	WriteStatusLine(&b, "waiting for quorum: 1/3 voters healthy")
	WriteStatusLine(&b, "two\nlines")
	WriteErrorLine(&b, errors.New("apply stopped:\nno quorum"))
	b.WriteString("a stray line a child printed\n")
	var got []string
	failure := ReadReport(&b, func(s string) { got = append(got, s) }, func() {})
	want := []string{"waiting for quorum: 1/3 voters healthy", "two; lines"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status lines (-want +got):\n%s", diff)
	}
	if failure != "apply stopped:; no quorum" {
		t.Errorf("failure = %q", failure)
	}
}

// fakeCLI writes a shell script standing in for the full nodeagent binary:
// it records its arguments and environment, then runs body.
func fakeCLI(t *testing.T, body string) (cli, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	cli = filepath.Join(dir, "nodeagent")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\nenv >> " + record + "\n" + body + "\n"
	if err := os.WriteFile(cli, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cli, record
}

func TestCommandRelaysStatusAndPassesArgs(t *testing.T) {
	cli, record := fakeCLI(t, `echo "status waiting for quorum: 2/3 voters healthy"; echo "status applying 41 objects"`)
	p := &Command{CLI: cli, Args: []string{"--node", "pi4-1", "--config", "/etc/nodeagent/cluster.yaml"}, Env: []string{"PATH=/usr/bin:/bin", "MARKER=child"}}
	var got []string
	if err := p.ApplyManifests(context.Background(), func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"waiting for quorum: 2/3 voters healthy", "applying 41 objects"}, got); diff != "" {
		t.Errorf("relayed status (-want +got):\n%s", diff)
	}
	rec, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	args, env, _ := strings.Cut(string(rec), "\n")
	if want := "apply --node pi4-1 --config /etc/nodeagent/cluster.yaml --report lines"; args != want {
		t.Errorf("child args = %q, want %q", args, want)
	}
	if !strings.Contains(env, "MARKER=child") {
		t.Errorf("the child did not get the given environment:\n%s", env)
	}
	for want, call := range map[string]func(context.Context, func(string)) error{
		"quorum --wait --node pi4-1": p.WaitQuorum,
		"restart-turn claim --node pi4-1": func(ctx context.Context, status func(string)) error {
			return p.ClaimRestart(ctx, "", status)
		},
		"restart-turn release --version v1.34.1+k3s1 --node pi4-1": func(ctx context.Context, status func(string)) error {
			return p.ReleaseRestart(ctx, "v1.34.1+k3s1", status)
		},
		"restart-turn fail --version v1.34.1+k3s1 --reason did not come back --node pi4-1": func(ctx context.Context, status func(string)) error {
			return p.FailRestart(ctx, "v1.34.1+k3s1", "did not come back", status)
		},
		"stale-member --via https://10.0.0.11:6443 --ca 0a1b --node pi4-1": func(ctx context.Context, status func(string)) error {
			return p.ReplaceStaleMember(ctx, "https://10.0.0.11:6443", "0a1b", status)
		},
		"sealed-keys --node pi4-1": p.KeepSealedKeys,
	} {
		if err := call(context.Background(), func(string) {}); err != nil {
			t.Fatal(err)
		}
		if rec, _ := os.ReadFile(record); !strings.HasPrefix(string(rec), want) {
			t.Errorf("ran %q, want %q", strings.SplitN(string(rec), "\n", 2)[0], want)
		}
	}
}

func TestCommandReportsTheChildsError(t *testing.T) {
	cli, _ := fakeCLI(t, `echo "status applying 41 objects"; echo "error apply stopped: no quorum"; exit 1`)
	p := &Command{CLI: cli}
	err := p.ApplyManifests(context.Background(), func(string) {})
	if err == nil || err.Error() != "nodeagent apply: apply stopped: no quorum" {
		t.Errorf("err = %v, want the child's error line", err)
	}
	cli, _ = fakeCLI(t, `exit 3`)
	p = &Command{CLI: cli}
	if err := p.WaitQuorum(context.Background(), func(string) {}); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("a child failing without an error line: err = %v, want its exit status", err)
	}
	p = &Command{CLI: filepath.Join(t.TempDir(), "missing")}
	if err := p.WaitQuorum(context.Background(), func(string) {}); err == nil || !strings.Contains(err.Error(), "starting nodeagent quorum --wait") {
		t.Errorf("a missing CLI: err = %v", err)
	}
}

// Stopping the daemon stops a waiting child with SIGTERM, so it can close
// its connections, rather than killing it.
func TestCommandStopsTheChildWithSIGTERM(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "terminated")
	cli, _ := fakeCLI(t, `trap 'echo TERM > `+marker+`; exit 0' TERM; echo "status waiting for quorum: 1/3 voters healthy"; while :; do sleep 0.05; done`)
	p := &Command{CLI: cli}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.WaitQuorum(ctx, func(string) { close(waiting) })
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the child never reported its wait")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(childStopGrace + 5*time.Second):
		t.Fatal("WaitQuorum did not return after its context ended")
	}
	if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "TERM" {
		t.Errorf("the child did not get SIGTERM: %q, %v", b, err)
	}
}

// The child is told to log JSON lines, and the daemon logs each again as
// its own entry with the child's name: journald then attributes it to the
// daemon's unit.
func TestCommandRelaysTheChildsLog(t *testing.T) {
	cli, record := fakeCLI(t, `echo '{"level":"info","msg":"restart lease claimed","node":"pi5"}' >&2; echo 'not json' >&2`)
	core, logs := observer.New(zapcore.InfoLevel)
	p := &Command{CLI: cli, Env: []string{"PATH=/usr/bin:/bin"}, Log: zap.New(core)}
	if err := p.ClaimRestart(context.Background(), "", func(string) {}); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Level  zapcore.Level
		Msg    string
		Fields map[string]any
	}
	var got []entry
	for _, e := range logs.AllUntimed() {
		got = append(got, entry{e.Level, e.Message, e.ContextMap()})
	}
	want := []entry{
		{zapcore.InfoLevel, "restart lease claimed", map[string]any{"child": "restart-turn", "node": "pi5"}},
		{zapcore.WarnLevel, "not json", map[string]any{"child": "restart-turn"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relayed entries (-want +got):\n%s", diff)
	}
	if rec, _ := os.ReadFile(record); !strings.Contains(string(rec), "\n"+logging.ChildEnv+"\n") {
		t.Errorf("the child was not told to log JSON lines (%s):\n%s", logging.ChildEnv, rec)
	}
}

// A report line longer than the reader keeps (a long error) is cut and
// marked, and reading goes on: the child is not left blocked on a full pipe
// and its later lines still arrive (issue #22, item 10).
func TestCommandReadsPastAnOverlongLine(t *testing.T) {
	// 200 KiB on one line: more than the 64 KiB pipe buffer, so a reader
	// that stops leaves the child blocked in its write.
	cli, _ := fakeCLI(t, `head -c 204800 /dev/zero | tr '\0' x | sed 's/^/status /'; echo; `+
		`echo "status after the long line"; echo "error apply stopped: no quorum"; exit 1`)
	p := &Command{CLI: cli}
	var got []string
	done := make(chan error, 1)
	go func() { done <- p.ApplyManifests(context.Background(), func(s string) { got = append(got, s) }) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ApplyManifests did not return: the child is blocked writing its report")
	}
	if err == nil || err.Error() != "nodeagent apply: apply stopped: no quorum" {
		t.Errorf("err = %v, want the error line that followed the long line", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d status lines, want 2", len(got))
	}
	want := strings.Repeat("x", 64<<10-len("status ")) + " [truncated]"
	if got[0] != want {
		t.Errorf("long line: got %d bytes ending %q, want %d bytes ending %q", len(got[0]), got[0][max(0, len(got[0])-20):], len(want), want[len(want)-20:])
	}
	if got[1] != "after the long line" {
		t.Errorf("line after the long one = %q", got[1])
	}
}

// Every report line of a child, a bare "progress" line included, marks the
// daemon's work alive, and only status lines change its STATUS (issue #22,
// item 2: a child polling silently for minutes stopped the watchdog).
func TestCommandMarksProgressPerLine(t *testing.T) {
	cli, _ := fakeCLI(t, `echo progress; echo progress; echo "status waiting for this etcd member to be healthy again"; echo progress`)
	p := &Command{CLI: cli}
	var marks atomic.Int32
	ctx := host.WithProgress(context.Background(), func() { marks.Add(1) })
	var got []string
	if err := p.ReleaseRestart(ctx, "", func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if n := marks.Load(); n != 4 {
		t.Errorf("progress marks = %d, want 4 (one per line)", n)
	}
	if diff := cmp.Diff([]string{"waiting for this etcd member to be healthy again"}, got); diff != "" {
		t.Errorf("status lines (-want +got):\n%s", diff)
	}
}

// steppedClock is a clock the test moves by hand.
type steppedClock struct{ now time.Time }

func (c *steppedClock) Now() time.Time                        { return c.now }
func (c *steppedClock) NewTimer(d time.Duration) host.Timer   { return host.RealClock{}.NewTimer(d) }
func (c *steppedClock) NewTicker(d time.Duration) host.Ticker { return host.RealClock{}.NewTicker(d) }

// A child writes at most one progress line a second, however often its
// polls come back.
func TestProgressLinesAreRateLimited(t *testing.T) {
	var b bytes.Buffer
	clock := &steppedClock{now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	mark := ProgressLines(&b, clock)
	for range 5 {
		mark()
	}
	clock.now = clock.now.Add(time.Second)
	mark()
	mark()
	if got := b.String(); got != "progress\nprogress\n" {
		t.Errorf("progress lines = %q, want two", got)
	}
}
