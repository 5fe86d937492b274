package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// countingDaemon counts the notifications the daemon loop sends.
type countingDaemon struct {
	mu        sync.Mutex
	watchdogs int
}

func (d *countingDaemon) Ready() error        { return nil }
func (d *countingDaemon) Status(string) error { return nil }
func (d *countingDaemon) Stopping() error     { return nil }
func (d *countingDaemon) Watchdog() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watchdogs++
	return nil
}

func (d *countingDaemon) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watchdogs
}

// The watchdog is fed while the worker is idle or making progress and
// starved when a reconcile stalls, so systemd restarts a hung daemon.
func TestSuperviseFeedsWatchdogOnlyWhileWorkProgresses(t *testing.T) {
	a := &Agent{Deps: Deps{Clock: host.RealClock{}}, log: zaptest.NewLogger(t)}
	opts := RunOptions{Watchdog: 5 * time.Millisecond, Resync: time.Hour, StallLimit: 100 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		lastBeat time.Duration // ago; 0 = idle
		wantFed  bool
	}{
		{"idle", 0, true},
		{"progressing", time.Millisecond, true},
		{"stalled", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var beat atomic.Int64
			if tc.lastBeat > 0 {
				beat.Store(time.Now().Add(-tc.lastBeat).UnixNano())
			}
			d := &countingDaemon{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				a.supervise(ctx, d, newQueue(), &beat, opts)
			}()
			// Poll with a deadline: at least 3 pings when fed.
			deadline := time.Now().Add(2 * time.Second)
			for d.count() < 3 && time.Now().Before(deadline) {
				if tc.lastBeat > 0 && tc.lastBeat < opts.StallLimit {
					beat.Store(time.Now().UnixNano()) // the worker reports progress
				}
				time.Sleep(5 * time.Millisecond) // pacing the refresh, not waiting for a condition
			}
			cancel()
			<-done
			if fed := d.count() >= 3; fed != tc.wantFed {
				t.Errorf("watchdog pings = %d, want fed=%v", d.count(), tc.wantFed)
			}
		})
	}
}

// A labels or disk pass that succeeds after a failed full pass does not put
// the node in step: the failed step's retry is still owed (seen in the e2e:
// a block event right after a failed apply turned STATUS to "in step").
func TestFullPassSettlesOnlyOnAFullSuccess(t *testing.T) {
	type pass struct {
		w   work
		err error
	}
	failed := context.DeadlineExceeded
	for _, tc := range []struct {
		name       string
		passes     []pass
		wantInStep bool
	}{
		{"full ok", []pass{{workFull, nil}}, true},
		{"labels ok", []pass{{workLabels, nil}}, true},
		{"full failed, then disks ok", []pass{{workFull, failed}, {workDisks, nil}}, false},
		{"full failed, then labels ok", []pass{{workFull, failed}, {workLabels, nil}}, false},
		{"full failed, then full ok", []pass{{workFull, failed}, {workFull, nil}}, true},
		{"labels failed, then config ok", []pass{{workLabels, failed}, {workConfig, nil}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f fullPass
			var inStep bool
			for _, p := range tc.passes {
				inStep = f.settle(p.w, p.err)
			}
			if inStep != tc.wantInStep {
				t.Errorf("in step = %v, want %v", inStep, tc.wantInStep)
			}
		})
	}
}

// pacedStep is a step that runs for a while, marking progress through its
// context (as a download or a polling wait does) when marks is set.
type pacedStep struct {
	fakeStep
	run     time.Duration
	marks   bool
	started chan struct{}
	d       *countingDaemon
	stall   time.Duration
	pings   chan [2]int // watchdog pings at 1.5 and 3 stall limits
}

func (p pacedStep) Apply(ctx context.Context) error {
	close(p.started)
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond) // pacing the marks
	defer tick.Stop()
	pings := [2]int{-1, -1}
	for time.Since(start) < p.run {
		if p.marks {
			host.Progress(ctx)
		}
		if pings[0] < 0 && time.Since(start) >= p.stall*3/2 {
			pings[0] = p.d.count()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	pings[1] = p.d.count()
	p.pings <- pings
	return nil
}

// Progress a step marks through its context (bytes of a download, polls of
// a wait) keeps the watchdog fed past the stall limit; a step that marks
// nothing still starves it (issue #22, item 2). The daemon also sweeps the
// leftovers of killed downloads before its first reconcile.
func TestRunCountsProgressFromTheStepsContext(t *testing.T) {
	const stall = 200 * time.Millisecond
	for _, tc := range []struct {
		name     string
		marks    bool
		wantFeed bool
	}{
		{"marking progress", true, true},
		{"hung", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testAgent(t, "pi4-1", &recordingReporter{})
			leftover := a.Root.Path("/usr/local/bin/.k3s.staged.download-12345")
			if err := os.MkdirAll(filepath.Dir(leftover), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(leftover, []byte("half a binary"), 0o600); err != nil {
				t.Fatal(err)
			}
			d := &countingDaemon{}
			step := pacedStep{fakeStep: fakeStep{name: "k3s", applied: &[]string{}}, run: 3 * stall, marks: tc.marks,
				started: make(chan struct{}), d: d, stall: stall, pings: make(chan [2]int, 1)}
			a.table = []Step{step}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- a.Run(ctx, d, RunOptions{Watchdog: 10 * time.Millisecond, Resync: time.Hour, StallLimit: stall})
			}()
			<-step.started
			if _, err := os.Stat(leftover); !os.IsNotExist(err) {
				t.Errorf("the leftover download is still there at the first reconcile: %v", err)
			}
			var pings [2]int
			select {
			case pings = <-step.pings:
			case <-time.After(10 * time.Second):
				t.Fatal("the step never finished")
			}
			cancel()
			<-done
			fed := pings[1]-pings[0] >= 3
			if pings[0] < 0 || pings[1] < 0 || fed != tc.wantFeed {
				t.Errorf("watchdog pings between 1.5 and 3 stall limits into the step: %d -> %d, want fed=%v", pings[0], pings[1], tc.wantFeed)
			}
		})
	}
}

// waitingStep waits for something that never comes, as a wait for the
// clock or a predecessor does, and hands back how its wait ended.
type waitingStep struct {
	fakeStep
	starts chan struct{}
	ended  chan error
}

func (w waitingStep) Apply(ctx context.Context) error {
	w.starts <- struct{}{}
	err := host.PollUntil(ctx, host.RealClock{}, "waiting for the predecessor", time.Hour, 10*time.Millisecond,
		func(context.Context) (bool, error) { return false, nil })
	w.ended <- err
	return err
}

// An edit of the cluster file interrupts a wait in progress: the pass stops
// at once, says why, and the next pass starts with the edit read. A
// refused edit stays in STATUS.
func TestAReloadInterruptsAWait(t *testing.T) {
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, config.DefaultYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	f := *a.File
	f.Source = path
	a.File = &f
	step := waitingStep{fakeStep{name: "preflight", applied: &[]string{}}, make(chan struct{}, 4), make(chan error, 4)}
	a.table = []Step{step}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.Run(ctx, &countingDaemon{}, RunOptions{ConfigPath: path, Resync: time.Hour, StallLimit: time.Hour})
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not within 10s", what)
		}
	}
	waitFor("the first pass", step.starts)
	// A broken edit: the running configuration stays, the wait is cut short.
	// The file watch starts beside the worker, so the edit is repeated until
	// one is seen.
	deadline := time.After(10 * time.Second)
	for edited := false; !edited; {
		if err := os.WriteFile(path, append(config.DefaultYAML(), "bogus: 1\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-step.ended:
			edited = true
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the predecessor: interrupted: the cluster file changed") {
				t.Errorf("the wait ended with %v, want it interrupted because the cluster file changed", err)
			}
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("the edit did not interrupt the wait")
		}
	}
	waitFor("the pass after the edit", step.starts)
	if !rep.saw("status the cluster file changed: reloading") {
		t.Error("STATUS did not say the pass stopped for the reload")
	}
	if !rep.saw("status cluster file edit refused, running on the previous one: " + path + ":") {
		t.Error("STATUS did not say the edit was refused")
	}
}

// STATUS after a failure is one short line: the phase, the cause (its
// innermost part kept), how often in a row, when the retry comes.
func TestFailureStatusIsOneShortLine(t *testing.T) {
	cause := errors.New("installing k3s: fetching k3s checksums: downloading https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-arm64.txt: " +
		strings.Repeat("retrying; ", 40) + "dial tcp: lookup github.com: no such host")
	at := time.Date(2026, 12, 2, 12, 3, 4, 0, time.Local)
	got := failureStatus(&PhaseError{Phase: "k3s", Err: cause}, 3, at)
	if n := len([]rune(got)); n > 260 {
		t.Errorf("STATUS is %d characters, want at most 260: %s", n, got)
	}
	for _, want := range []string{"k3s failed (3× in a row): installing k3s: fetching", "no such host; retry at 12:03:04"} {
		if !strings.Contains(got, want) {
			t.Errorf("STATUS %q lacks %q", got, want)
		}
	}
	if got := failureStatus(&PhaseError{Phase: "preflight", Err: ErrRebootRequired}, 1, at); got != "preflight failed: reboot required; retry at 12:03:04" {
		t.Errorf("short cause: %q", got)
	}
}

// A labels pass that fails while a failed full pass is due (no kubeconfig
// before k3s runs) does not replace the real cause in STATUS.
func TestAFollowOnFailureKeepsTheRealCause(t *testing.T) {
	rep := &recordingReporter{}
	a, logs := observedAgent(t, rep)
	a.table = []Step{fakeStep{name: "k3s", err: errors.New("download failed"), applied: &[]string{}}}
	q := newQueue()
	var beat atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.worker(ctx, q, &beat); close(done) }()
	defer func() { cancel(); <-done }()
	poll := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
			time.Sleep(10 * time.Millisecond) // polls; the deadline bounds it
		}
	}
	q.add(workFull)
	poll("the failure STATUS of the full pass", func() bool { return rep.saw("status k3s failed: download failed; retry at ") })
	// The labels pass fails for lack of a kubeconfig on this empty host.
	q.add(workLabels)
	poll("the labels pass", func() bool { return logs.FilterMessage("pass failed while the full retry is due").Len() > 0 })
	rep.mu.Lock()
	last := rep.events[len(rep.events)-1]
	rep.mu.Unlock()
	if !strings.HasPrefix(last, "status k3s failed: download failed") {
		t.Errorf("STATUS after the labels pass = %q, want the k3s failure still", last)
	}
}

// Retries back off to minutes: 30 s while a join is young, 2 min once it
// keeps failing, 5 min on a joined node.
func TestMaxBackoff(t *testing.T) {
	a := testAgent(t, "pi4-1", &recordingReporter{})
	if got := a.maxBackoff(1); got != 30*time.Second {
		t.Errorf("joining, first failure: %s, want 30s", got)
	}
	if got := a.maxBackoff(joinFastRetries + 1); got != 2*time.Minute {
		t.Errorf("joining, failing on: %s, want 2m", got)
	}
	if err := SaveState(a.Root, State{Joined: true}); err != nil {
		t.Fatal(err)
	}
	if got := a.maxBackoff(1); got != 5*time.Minute {
		t.Errorf("joined: %s, want 5m", got)
	}
}

// The retry of a failed pass starts at the phase that failed; a full pass
// (event, resync, reload) runs them all.
func TestARetryResumesAtTheFailedPhase(t *testing.T) {
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	var ran []string
	a.table = []Step{
		fakeStep{name: "preflight", applied: &ran}, fakeStep{name: "firewall", applied: &ran},
		fakeStep{name: "k3s", err: errors.New("download failed"), applied: &ran}, fakeStep{name: "labels", applied: &ran},
	}
	q := newQueue()
	var beat atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.worker(ctx, q, &beat); close(done) }()
	q.add(workFull)
	for deadline := time.Now().Add(10 * time.Second); !rep.saw("status k3s failed: download failed"); {
		if time.Now().After(deadline) {
			t.Fatal("no failure STATUS")
		}
		time.Sleep(10 * time.Millisecond) // polls the reports; the deadline bounds it
	}
	cancel()
	<-done
	if a.resumeAt != "k3s" {
		t.Fatalf("after the failure the retry would start at %q, want k3s", a.resumeAt)
	}

	for _, tc := range []struct {
		name     string
		w        work
		resumeAt string
		want     []string
	}{
		{"retry", workRetry, "k3s", []string{"k3s"}},
		{"retry of a phase no longer in the table", workRetry, "gone", []string{"preflight", "firewall", "k3s"}},
		{"full pass", workFull, "k3s", []string{"preflight", "firewall", "k3s"}},
		{"retry and an event at once", workRetry | workFull, "k3s", []string{"preflight", "firewall", "k3s"}},
	} {
		ran = nil
		a.resumeAt = tc.resumeAt
		_ = a.reconcile(context.Background(), tc.w)
		if !slices.Equal(ran, tc.want) {
			t.Errorf("%s: ran %v, want %v", tc.name, ran, tc.want)
		}
	}
}

// heldK3sStep holds the agent's upgrade on its first runs, as the k3s
// step does while a server is still on the old version.
type heldK3sStep struct {
	fakeStep
	a     *Agent
	holds *int // runs left that hold
}

func (s heldK3sStep) Apply(ctx context.Context) error {
	s.a.upgradeHeld = ""
	if *s.holds > 0 {
		*s.holds--
		s.a.upgradeHeld = "k3s v1.33.6+k3s1 staged; waiting for every server to run it before this agent does: pi5 (v1.33.5+k3s1)"
	}
	return s.fakeStep.Apply(ctx)
}

// A held upgrade is no failure: the pass ends, STATUS says what the
// upgrade waits for (not "in step"), and a whole pass comes again soon by
// itself, not at the resync; once the servers run it, "in step".
func TestAHeldUpgradeSaysSoAndAsksAgainSoon(t *testing.T) {
	defer func(d time.Duration) { upgradeHeldRecheck = d }(upgradeHeldRecheck)
	upgradeHeldRecheck = 50 * time.Millisecond
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	var ran []string
	holds := 1
	a.table = []Step{fakeStep{name: "preflight", applied: &ran}, heldK3sStep{fakeStep{name: "k3s", applied: &ran}, a, &holds},
		fakeStep{name: "labels", applied: &ran}}
	q := newQueue()
	var beat atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.worker(ctx, q, &beat); close(done) }()
	defer func() { cancel(); <-done }()
	q.add(workFull)
	for deadline := time.Now().Add(10 * time.Second); !rep.saw("status in step"); {
		if time.Now().After(deadline) {
			t.Fatalf("never in step after the hold; reports %v", rep.events)
		}
		time.Sleep(10 * time.Millisecond) // polls the reports; the deadline bounds it
	}
	if !rep.saw("status k3s v1.33.6+k3s1 staged; waiting for every server to run it before this agent does: pi5 (v1.33.5+k3s1)") {
		t.Errorf("STATUS never said what the upgrade waits for: %v", rep.events)
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if strings.Count(strings.Join(ran, " "), "k3s") != 2 || !slices.Equal(ran[len(ran)-3:], []string{"preflight", "k3s", "labels"}) {
		t.Errorf("steps ran %v, want two whole passes: the held one and the one that came by itself", ran)
	}
}
