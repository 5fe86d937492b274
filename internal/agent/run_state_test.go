package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// recordingReporter keeps what a run reported.
type recordingReporter struct {
	mu     sync.Mutex
	events []string
}

func (r *recordingReporter) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recordingReporter) PhaseStarted(name string) { r.add("start " + name) }
func (r *recordingReporter) PhaseDone(name string, _ time.Duration, err error) {
	if err != nil {
		r.add("fail " + name)
		return
	}
	r.add("done " + name)
}
func (r *recordingReporter) Status(text string) { r.add("status " + text) }

func TestQueueCoalesces(t *testing.T) {
	q := newQueue()
	for i := 0; i < 20; i++ {
		q.add(workLabels)
	}
	q.add(workDisks)
	select {
	case <-q.signal:
	default:
		t.Fatal("no signal after add")
	}
	select {
	case <-q.signal:
		t.Fatal("a burst gave more than one signal")
	default:
	}
	if got := q.take(); got != workLabels|workDisks {
		t.Errorf("take = %b, want labels|disks", got)
	}
	if got := q.take(); got != 0 {
		t.Errorf("second take = %b, want nothing", got)
	}
}

func TestStateRoundTripAndErrorHistory(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	st, err := LoadState(root)
	if err != nil || st.Joined {
		t.Fatalf("fresh state = %+v, %v", st, err)
	}
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 7; i++ {
		st.recordError(errors.New("e"+string(rune('0'+i))), at)
	}
	st.Joined = true
	if err := SaveState(root, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(root)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Joined || len(got.LastErrors) != 5 || !strings.HasSuffix(got.LastErrors[4], "e6") {
		t.Errorf("state after save = %+v", got)
	}
}

// A state file that does not parse is moved aside, kept for root only, and
// the join goes on with a fresh state and says so; before, every join
// failed on it forever (issue #22, item 3).
func TestJoinMovesACorruptStateAside(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(root.Path(StateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("{\"joined\": tru")
	if err := os.WriteFile(root.Path(StateDir+"/state.json"), garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 11, 50, 0, 0, time.UTC)
	rep := &recordingReporter{}
	a := &Agent{Deps: Deps{Root: root, Clock: fixedClock{now}, Reporter: rep}, log: zaptest.NewLogger(t)}
	if err := a.Join(context.Background()); err != nil {
		t.Fatalf("join with a corrupt state file: %v", err)
	}
	aside := StateDir + "/state.json.corrupt-20261202T115000Z"
	got, err := os.ReadFile(root.Path(aside))
	if err != nil || !bytes.Equal(got, garbage) {
		t.Fatalf("corrupt state not kept at %s: %q, %v", aside, got, err)
	}
	if fi, err := os.Stat(root.Path(aside)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of %s = %v, %v; want 0600", aside, fi.Mode().Perm(), err)
	}
	st, err := LoadState(root)
	if err != nil || !st.Joined {
		t.Errorf("state after the join = %+v, %v; want a fresh, joined state", st, err)
	}
	want := "status state file " + StateDir + "/state.json was corrupt: moved to " + aside + ", starting with a fresh state"
	if !slices.Contains(rep.events, want) {
		t.Errorf("reported %q, want %q", rep.events, want)
	}
}

// fixedClock is a clock that stays at one instant.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                        { return c.t }
func (c fixedClock) NewTimer(d time.Duration) host.Timer   { return host.RealClock{}.NewTimer(d) }
func (c fixedClock) NewTicker(d time.Duration) host.Ticker { return host.RealClock{}.NewTicker(d) }
