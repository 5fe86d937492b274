package logging

import (
	"fmt"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// journalCore writes each entry to journald with its fields as journal
// fields (upper-cased: phase → PHASE); journald adds the timestamp itself.
type journalCore struct {
	zapcore.LevelEnabler
	fields []zapcore.Field
	send   func(msg string, p journal.Priority, vars map[string]string) error
}

// NewJournalCore returns a core that logs to journald at level and above.
func NewJournalCore(level zapcore.LevelEnabler) zapcore.Core {
	return &journalCore{LevelEnabler: level, send: journal.Send}
}

func (c *journalCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &clone
}

func (c *journalCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *journalCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fields...) {
		f.AddTo(enc)
	}
	// journal.Send sets no identifier: name it, so `journalctl -t nodeagent`
	// finds these entries too.
	vars := map[string]string{"SYSLOG_IDENTIFIER": "nodeagent"}
	var text []string
	for k, v := range enc.Fields {
		vars[journalKey(k)] = fmt.Sprint(v)
		text = append(text, k+"="+fmt.Sprint(v))
	}
	msg := e.Message
	if len(text) > 0 {
		// Also in the message, so plain `journalctl -u nodeagent` shows them.
		sort.Strings(text)
		msg += " " + strings.Join(text, " ")
	}
	return c.send(msg, priority(e.Level), vars)
}

func (c *journalCore) Sync() error { return nil }

// journalKey maps a zap field name to a valid journal field name.
func journalKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') || reservedJournalKeys[s] {
		s = "F_" + s
	}
	return s
}

// reservedJournalKeys are the fields journald itself gives a meaning
// (systemd.journal-fields(7)). A zap field of that name would become a
// second MESSAGE= (which journalctl then shows instead of the line) or a
// bogus PRIORITY=, so such fields are prefixed like the others that are
// not valid as they are.
var reservedJournalKeys = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true, "CODE_FILE": true, "CODE_LINE": true,
	"CODE_FUNC": true, "ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
	"SYSLOG_FACILITY": true, "SYSLOG_IDENTIFIER": true, "SYSLOG_PID": true, "SYSLOG_TIMESTAMP": true,
	"SYSLOG_RAW": true, "DOCUMENTATION": true, "TID": true, "UNIT": true, "USER_UNIT": true,
}

func priority(l zapcore.Level) journal.Priority {
	switch {
	case l >= zapcore.DPanicLevel:
		return journal.PriCrit
	case l >= zapcore.ErrorLevel:
		return journal.PriErr
	case l >= zapcore.WarnLevel:
		return journal.PriWarning
	case l >= zapcore.InfoLevel:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}
