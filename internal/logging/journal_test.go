package logging

import (
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestJournalCoreFields(t *testing.T) {
	type sent struct {
		Msg  string
		Pri  journal.Priority
		Vars map[string]string
	}
	var got []sent
	core := &journalCore{LevelEnabler: zapcore.InfoLevel, send: func(msg string, p journal.Priority, vars map[string]string) error {
		got = append(got, sent{msg, p, vars})
		return nil
	}}
	log := zap.New(core).With(zap.String("component", "k3s"))
	log.Debug("hidden")
	log.Warn("waiting for server", zap.String("phase", "join"), zap.Int("attempt", 3), zap.String("node.name", "pi4-1"))
	want := []sent{{
		Msg:  "waiting for server attempt=3 component=k3s node.name=pi4-1 phase=join",
		Pri:  journal.PriWarning,
		Vars: map[string]string{"COMPONENT": "k3s", "PHASE": "join", "ATTEMPT": "3", "NODE_NAME": "pi4-1", "SYSLOG_IDENTIFIER": "nodeagent"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("journal entries (-want +got):\n%s", diff)
	}
}

func TestJournalKey(t *testing.T) {
	for in, want := range map[string]string{"phase": "PHASE", "node-name": "NODE_NAME", "_x": "X", "1st": "F_1ST", "message": "F_MESSAGE", "priority": "F_PRIORITY", "unit": "F_UNIT"} {
		if got := journalKey(in); got != want {
			t.Errorf("journalKey(%q) = %q, want %q", in, got, want)
		}
	}
}
