package agent

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// A node that left its cluster is not brought back: join and every daemon
// pass refuse, saying what to do, and write no state; without the record
// the same agent joins.
func TestALeftNodeIsNotJoinedAgain(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	now := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	if err := RecordLeft(root, "pi4-3", now); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root.Path(LeftPath)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode of %s: %v, %v", LeftPath, fi, err)
	}
	a := &Agent{Deps: Deps{Root: root, Clock: fixedClock{now}, Reporter: &recordingReporter{}}, log: zaptest.NewLogger(t)}
	for name, pass := range map[string]func() error{
		"join":       func() error { return a.Join(context.Background()) },
		"full pass":  func() error { return a.reconcile(context.Background(), workFull) },
		"disks pass": func() error { return a.reconcile(context.Background(), workDisks) },
	} {
		err := pass()
		if !errors.Is(err, ErrLeft) || !strings.Contains(err.Error(), "2026-12-03T04:00:00Z") || !strings.Contains(err.Error(), "nodeagent uninstall") {
			t.Errorf("%s of a node that left: %v", name, err)
		}
	}
	if _, err := os.Stat(root.Path(StateDir + "/state.json")); !os.IsNotExist(err) {
		t.Errorf("a refused join wrote state (%v)", err)
	}
	if err := os.Remove(root.Path(LeftPath)); err != nil {
		t.Fatal(err)
	}
	if err := a.Join(context.Background()); err != nil {
		t.Errorf("join without the record: %v", err)
	}
}
