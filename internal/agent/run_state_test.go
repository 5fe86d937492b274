package agent

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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
