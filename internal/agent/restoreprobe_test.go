package agent

import (
	"testing"
	"time"
)

// A peer's member list without this server queues a pass once, again
// after outOfClusterRetrigger while it lasts, and at once when it changes.
func TestOutOfClusterNoticesOnceThenAgainLater(t *testing.T) {
	o := &outOfCluster{seen: map[string]string{}, at: map[string]time.Time{}}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		members []string
		after   time.Duration
		want    bool
	}{
		{[]string{"pi4-1-aaaa"}, 0, true},
		{[]string{"pi4-1-aaaa"}, time.Minute, false},
		{[]string{"pi4-1-aaaa"}, 2 * time.Minute, false},
		{[]string{"pi4-1-aaaa"}, outOfClusterRetrigger, true},
		{[]string{"pi4-2-bbbb", "pi4-1-aaaa"}, outOfClusterRetrigger + time.Minute, true},
		{[]string{"pi4-1-aaaa", "pi4-2-bbbb"}, outOfClusterRetrigger + 2*time.Minute, false},
	}
	for i, s := range steps {
		if got := o.notice("pi4-1", s.members, t0.Add(s.after)); got != s.want {
			t.Fatalf("step %d (%v at +%s): notice %v, want %v", i, s.members, s.after, got, s.want)
		}
	}
	o.forget("pi4-1")
	if !o.notice("pi4-1", []string{"pi4-1-aaaa"}, t0.Add(outOfClusterRetrigger+3*time.Minute)) {
		t.Fatal("a list seen again after the peer listed this server: want a pass")
	}
}
