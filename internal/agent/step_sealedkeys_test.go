package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// sealedKeysServerWork logs the server work's calls in order; its
// KeepSealedKeys fails with err, as the child does on an unmounted disk.
type sealedKeysServerWork struct {
	fakeServerWork
	calls []string
	err   error
}

func (w *sealedKeysServerWork) WaitQuorum(context.Context, func(string)) error {
	w.calls = append(w.calls, "quorum")
	return nil
}

func (w *sealedKeysServerWork) ApplyManifests(context.Context, func(string)) error {
	w.calls = append(w.calls, "apply")
	return nil
}

func (w *sealedKeysServerWork) KeepSealedKeys(_ context.Context, status func(string)) error {
	w.calls = append(w.calls, "sealed-keys")
	status("checking 2 saved sealed-secrets keys against 2 in the cluster")
	return w.err
}

// The step runs on the backups node only (pi5 in the built-in homelab),
// between quorum and the apply; its failure is shown and the apply still
// runs.
func TestSealedKeysStepOnTheBackupsNode(t *testing.T) {
	if a := testAgent(t, "pi4-1", &recordingReporter{}); slices.ContainsFunc(a.applicable(), func(s Step) bool { return s.Name() == StepSealedKeys }) {
		t.Error("the sealedkeys step applies on pi4-1, which is not backups.node")
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{name: "kept"},
		{name: "disk not mounted", err: errors.New("sealed-secrets keys: the backups disk is not mounted: nothing at /mnt/hd1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &recordingReporter{}
			a := testAgent(t, "pi5", rep)
			sw := &sealedKeysServerWork{err: tc.err}
			a.server = sw
			a.table = []Step{quorumStep{a}, sealedKeysStep{a}, manifestsStep{a}}
			if err := a.runSteps(context.Background()); err != nil {
				t.Fatalf("pass: %v", err)
			}
			if diff := cmp.Diff([]string{"quorum", "sealed-keys", "apply"}, sw.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			shown := strings.Join(rep.events, "\n")
			if tc.err != nil && !strings.Contains(shown, "status sealed-secrets keys not kept: "+tc.err.Error()) {
				t.Errorf("the failure is not in the status:\n%s", shown)
			}
		})
	}
}

// Without a server work that keeps keys the step says so; the plan names
// the directory; status shows the child's record.
func TestSealedKeysStepPlanAndStatus(t *testing.T) {
	a := testAgent(t, "pi5", &recordingReporter{})
	a.server = &fakeServerWork{}
	s := sealedKeysStep{a}
	if err := s.Apply(context.Background()); !errors.Is(err, errNoServerWork) {
		t.Errorf("apply without sealed-keys work: %v, want errNoServerWork", err)
	}
	p, err := s.Plan(context.Background(), false)
	if err != nil || !strings.Contains(p.Summary, "/mnt/hd1/backups/sealed-secrets-keys") {
		t.Errorf("plan %q (%v), want the key directory", p.Summary, err)
	}
	rec := child.SealedKeysRecord{Dir: "/mnt/hd1/backups/sealed-secrets-keys", InCluster: 2, PutBack: []string{"sealed-secrets-keyaaaaa"}}
	if err := child.SaveSealedKeysRecord(a.Root, rec); err != nil {
		t.Fatal(err)
	}
	var r StatusReport
	if err := s.Status(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	if r.SealedKeys == nil || !cmp.Equal(*r.SealedKeys, rec) {
		t.Errorf("status %+v, want %+v", r.SealedKeys, rec)
	}
	a.File.Cluster.Backups = config.Backups{}
	if s.Applies() {
		t.Error("applies without a backups section")
	}
}
