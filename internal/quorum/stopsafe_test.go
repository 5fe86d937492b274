package quorum

import (
	"errors"
	"strings"
	"testing"
)

func TestStopSafe(t *testing.T) {
	member := func(id uint64, healthy, learner bool) Member {
		m := Member{ID: id, Name: map[uint64]string{1: "pi4-1", 2: "pi4-2", 3: "pi5", 4: "pi4-3"}[id], Healthy: healthy, Learner: learner}
		if !healthy {
			m.Reason = "unreachable"
		}
		return m
	}
	status := func(members ...Member) Status {
		return Status{Self: 1, Members: members, Verdict: Evaluate(members)}
	}
	cases := []struct {
		name string
		st   Status
		min  int
		want string // "" = safe
	}{
		{"three healthy", status(member(1, true, false), member(2, true, false), member(3, true, false)), 2, ""},
		{"self already down", status(member(1, false, false), member(2, true, false), member(3, true, false)), 2, ""},
		{"another down", status(member(1, true, false), member(2, true, false), member(3, false, false)), 2, "other members unhealthy: pi5 (unreachable)"},
		{"two voters", status(member(1, true, false), member(2, true, false)), 2, "1 other voter(s) healthy, 2 needed"},
		{"a learner does not count", status(member(1, true, false), member(2, true, false), member(4, true, true)), 2, "1 other voter(s) healthy, 2 needed"},
		{"a single server", status(member(1, true, false)), 1, "0 other voter(s) healthy, 1 needed"},
		{"the cluster file's floor", status(member(1, true, false), member(2, true, false), member(3, true, false)), 3, "2 other voter(s) healthy, 3 needed"},
	}
	for _, c := range cases {
		err := c.st.StopSafe(c.min)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want safe", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	st := status(member(1, true, false), member(2, true, false), member(3, true, false))
	st.ReadErr = errors.New("context deadline exceeded")
	if err := st.StopSafe(2); err == nil {
		t.Error("a failed local read was taken as safe")
	}
}
