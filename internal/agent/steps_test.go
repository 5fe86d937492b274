package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// fakeStep records what the table asked of it.
type fakeStep struct {
	name    string
	skip    bool
	err     error
	applied *[]string
}

func (f fakeStep) Name() string  { return f.name }
func (f fakeStep) Applies() bool { return !f.skip }
func (f fakeStep) Apply(context.Context) error {
	*f.applied = append(*f.applied, f.name)
	return f.err
}
func (f fakeStep) Plan(context.Context, bool) (plan.Step, error) {
	return plan.Step{Name: f.name, Summary: "planned by the fake"}, nil
}
func (f fakeStep) Status(context.Context, *StatusReport) error {
	return errors.New("status of the fake")
}
func (f fakeStep) Checks(context.Context) []preflight.Check {
	return []preflight.Check{{Name: f.name + "-check", OK: true, Message: "checked by the fake"}}
}

// testAgent is node name of the built-in homelab on an empty temp root,
// with a runner that runs nothing.
func testAgent(t *testing.T, name string, rep Reporter) *Agent {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := f.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	// The host's port is not the test's: no metrics endpoint (metrics tests
	// serve their own).
	off := config.MetricsOff
	f.Cluster.Metrics.Listen = &off
	a := New(Deps{Log: zaptest.NewLogger(t), File: f, Node: n, Root: host.NewRoot(t.TempDir()),
		Runner: &host.FakeRunner{}, Clock: host.RealClock{}, Reporter: rep})
	t.Cleanup(a.Close)
	return a
}

func TestRunStepsOrderSkipAndStop(t *testing.T) {
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	var ran []string
	boom := errors.New("boom")
	a.table = []Step{
		fakeStep{name: "preflight", applied: &ran},
		fakeStep{name: "disk", skip: true, applied: &ran},
		fakeStep{name: "k3s", err: boom, applied: &ran},
		fakeStep{name: "labels", applied: &ran},
	}
	err := a.runSteps(context.Background())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "k3s: ") {
		t.Fatalf("err = %v, want k3s: boom", err)
	}
	if diff := cmp.Diff([]string{"preflight", "k3s"}, ran); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}
	want := []string{"start preflight", "done preflight", "start k3s", "fail k3s"}
	if diff := cmp.Diff(want, rep.events); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

// A step added to the table is in join, the daemon's full reconcile, plan,
// status and doctor, with nothing else to register.
func TestAStepInTheTableIsSeenEverywhere(t *testing.T) {
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	var applied []string
	a.table = append([]Step{fakeStep{name: "fake", applied: &applied}}, a.table...)
	ctx := context.Background()

	// The empty root has no cmdline.txt: the real preflight stops the run
	// right after the fake step.
	if err := a.Join(ctx); err == nil || !strings.HasPrefix(err.Error(), "preflight: ") {
		t.Errorf("join: err = %v, want the preflight on an empty root to fail", err)
	}
	if err := a.reconcile(ctx, workFull); err == nil {
		t.Error("full reconcile on an empty root succeeded")
	}
	if diff := cmp.Diff([]string{"fake", "fake"}, applied); diff != "" {
		t.Errorf("applied by join and reconcile (-want +got):\n%s", diff)
	}
	if !slices.Contains(rep.events, "done fake") {
		t.Errorf("the reporter did not see the fake step: %v", rep.events)
	}

	p, err := a.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	want := []string{"fake", StepPreflight, StepFirewall, StepK3s, StepRegister, StepUSB, StepLabels, StepQuorum, StepManifests}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("planned steps of pi4-1 (-want +got):\n%s", diff)
	}

	if r := a.Status(ctx); !slices.Contains(r.Problems, "fake: status of the fake") {
		t.Errorf("status problems = %v, want the fake step's part", r.Problems)
	}

	var checks []string
	for _, c := range a.Doctor(ctx) {
		checks = append(checks, c.Name)
	}
	if len(checks) == 0 || checks[0] != "fake-check" || !slices.Contains(checks, "memory-cgroup") || !slices.Contains(checks, "token") {
		t.Errorf("doctor checks = %v, want the fake's first, then the real steps'", checks)
	}
}

// pi5 has a disk and pi4-1 none: Applies leaves the disk step out of the
// plan and the join of pi4-1 alone.
func TestAppliesFollowsTheNode(t *testing.T) {
	for node, want := range map[string]bool{"pi4-1": false, "pi5": true} {
		a := testAgent(t, node, &recordingReporter{})
		p, err := a.Plan(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(p.Steps, func(s plan.Step) bool { return s.Name == StepDisk })
		if got != want {
			t.Errorf("%s: disk step planned = %v, want %v", node, got, want)
		}
	}
}

// On a fresh host the live plan is every step's full work, computed by
// observing: nothing installed, nothing registered.
func TestLivePlanOfAFreshHost(t *testing.T) {
	a := testAgent(t, "pi4-1", &recordingReporter{})
	p, err := a.Plan(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := plan.WriteText(&b, []plan.Node{p}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"memory cgroup off and finding the kernel command line",
		"install /usr/local/bin/k3s",
		"token: <redacted>",
		"install unit k3s.service",
		"systemctl restart k3s.service",
		"not registered now",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("live plan of a fresh host lacks %q:\n%s", want, got)
		}
	}
}

// loggingStep logs through a logger it was given, as the step packages do.
type loggingStep struct {
	fakeStep
	log *zap.Logger
}

func (s loggingStep) Apply(ctx context.Context) error {
	s.log.Info("working")
	return s.fakeStep.Apply(ctx)
}

// Every line logged while a phase runs carries the phase, not only the
// agent's started/done lines, so `journalctl PHASE=k3s` shows the phase's work.
func TestLinesWithinAPhaseCarryIt(t *testing.T) {
	a, logs := observedAgent(t, &recordingReporter{})
	var ran []string
	a.table = []Step{loggingStep{fakeStep{name: "k3s", applied: &ran}, a.log.Named("k3s")}}
	if err := a.runSteps(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.log.Info("between passes")
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Message+" phase="+fmt.Sprint(e.ContextMap()["phase"]))
	}
	want := []string{"phase started phase=k3s", "working phase=k3s", "phase done phase=k3s", "between passes phase=<nil>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

func TestClockCheckFollowsTimeSync(t *testing.T) {
	unsynced := preflight.Check{Name: "time-sync", Severity: preflight.SeverityError, Message: "the clock is not synchronized"}
	if got := clockCheck(unsynced, config.TimeSyncWait); got.Severity != preflight.SeverityError {
		t.Errorf("timeSync wait: severity %s, want error", got.Severity)
	}
	got := clockCheck(unsynced, config.TimeSyncWarn)
	if got.Severity != preflight.SeverityWarning || !strings.Contains(got.Message, "preflight.timeSync: warn") {
		t.Errorf("timeSync warn: %+v, want a warning that names the setting", got)
	}
	if synced := (preflight.Check{Name: "time-sync", OK: true, Severity: preflight.SeverityError}); clockCheck(synced, config.TimeSyncWarn) != synced {
		t.Error("a synchronised clock's check changed")
	}
}

// observedAgent is testAgent for pi4-1 with its log entries kept for the
// test to read.
func observedAgent(t *testing.T, rep Reporter) (*Agent, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.Node("pi4-1")
	a := New(Deps{Log: zap.New(core), File: f, Node: n, Root: host.NewRoot(t.TempDir()),
		Runner: &host.FakeRunner{}, Clock: host.RealClock{}, Reporter: rep})
	t.Cleanup(a.Close)
	return a, logs
}
