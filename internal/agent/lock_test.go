package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// `nodeagent join` by hand while the service works on the node is refused,
// naming the holder; the service waits for a join by hand to finish.
func TestOneNodeagentAtATime(t *testing.T) {
	rep := &recordingReporter{}
	a := testAgent(t, "pi4-1", rep)
	var ran []string
	a.table = []Step{fakeStep{name: "preflight", applied: &ran}}

	daemon, err := a.tryLock("nodeagent.service")
	if err != nil {
		t.Fatal(err)
	}
	err = a.Join(context.Background())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "nodeagent.service (pid ") {
		t.Errorf("join while the service holds the lock: err = %v, want ErrLocked naming nodeagent.service", err)
	}
	if len(ran) != 0 {
		t.Errorf("join ran %v while the service held the lock", ran)
	}
	daemon.Unlock()

	join, err := a.tryLock("nodeagent join")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := a.lockWaiting(context.Background(), "nodeagent.service")
		if err == nil {
			l.Unlock()
		}
		got <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !rep.saw("status waiting: another nodeagent is working on this node: nodeagent join (pid ") {
		if time.Now().After(deadline) {
			t.Fatal("the service did not say it waits for the join")
		}
		time.Sleep(10 * time.Millisecond) // polls the reports; the deadline bounds it
	}
	select {
	case err := <-got:
		t.Fatalf("the service took the lock while the join held it: %v", err)
	default:
	}
	join.Unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not take the lock after the join let go")
	}
	if err := a.Join(context.Background()); err != nil || len(ran) != 1 {
		t.Errorf("join with the lock free: %v, ran %v", err, ran)
	}
}

// saw reports whether an event starting with prefix was recorded.
func (r *recordingReporter) saw(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}
