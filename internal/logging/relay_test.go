package logging

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type relayed struct {
	Level   zapcore.Level
	Logger  string
	Message string
	Fields  map[string]any
}

// relayAll feeds r through a Relay in chunks of size bytes (lines split
// across writes, as a pipe delivers them) and returns what was logged at
// info and above.
func relayAll(t *testing.T, r io.Reader, size int) []relayed {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	relay := NewRelay(zap.New(core), zap.String("child", "restart-turn"))
	if _, err := io.CopyBuffer(struct{ io.Writer }{relay}, struct{ io.Reader }{r}, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
	var got []relayed
	for _, e := range logs.AllUntimed() {
		got = append(got, relayed{e.Level, e.LoggerName, e.Message, e.ContextMap()})
	}
	return got
}

func TestRelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []relayed
	}{{
		name: "fields keep their kind",
		in:   `{"level":"info","msg":"restart lease claimed","node":"pi5","attempt":3,"ratio":0.5,"held":true,"waited":"1.5s"}` + "\n",
		want: []relayed{{zapcore.InfoLevel, "", "restart lease claimed", map[string]any{
			"child": "restart-turn", "node": "pi5", "attempt": int64(3), "ratio": 0.5, "held": true, "waited": "1.5s"}}},
	}, {
		name: "levels, the debug one filtered by the daemon's level",
		in: `{"level":"debug","msg":"hidden"}` + "\n" + `{"level":"warn","msg":"w"}` + "\n" +
			`{"level":"error","msg":"e","error":"no quorum"}` + "\n",
		want: []relayed{
			{zapcore.WarnLevel, "", "w", map[string]any{"child": "restart-turn"}},
			{zapcore.ErrorLevel, "", "e", map[string]any{"child": "restart-turn", "error": "no quorum"}},
		},
	}, {
		name: "a child's panic or fatal is an error in the daemon",
		in:   `{"level":"fatal","msg":"f"}` + "\n" + `{"level":"panic","msg":"p"}` + "\n" + `{"level":"dpanic","msg":"d"}` + "\n",
		want: []relayed{
			{zapcore.ErrorLevel, "", "f", map[string]any{"child": "restart-turn"}},
			{zapcore.ErrorLevel, "", "p", map[string]any{"child": "restart-turn"}},
			{zapcore.ErrorLevel, "", "d", map[string]any{"child": "restart-turn"}},
		},
	}, {
		name: "logger name, nested values and null as JSON text",
		in:   `{"level":"info","logger":"etcd-client","msg":"m","peers":["a","b"],"tls":{"ok":true},"lease":null}` + "\n",
		want: []relayed{{zapcore.InfoLevel, "etcd-client", "m", map[string]any{
			"child": "restart-turn", "peers": `["a","b"]`, "tls": `{"ok":true}`, "lease": "null"}}},
	}, {
		name: "not JSON: a plain message at warn, blank lines dropped",
		in:   "error: reading cluster file: permission denied\n\n  \npanic: boom\r\n[1,2]\n",
		want: []relayed{
			{zapcore.WarnLevel, "", "error: reading cluster file: permission denied", map[string]any{"child": "restart-turn"}},
			{zapcore.WarnLevel, "", "panic: boom", map[string]any{"child": "restart-turn"}},
			{zapcore.WarnLevel, "", "[1,2]", map[string]any{"child": "restart-turn"}},
		},
	}, {
		name: "an unterminated last line is relayed on Close",
		in:   `{"level":"info","msg":"a"}` + "\n" + `{"level":"info","msg":"b"}`,
		want: []relayed{
			{zapcore.InfoLevel, "", "a", map[string]any{"child": "restart-turn"}},
			{zapcore.InfoLevel, "", "b", map[string]any{"child": "restart-turn"}},
		},
	}} {
		for _, size := range []int{1, 7, 4096} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, relayAll(t, strings.NewReader(tc.in), size)); diff != "" {
					t.Errorf("relayed entries, written %d bytes at a time (-want +got):\n%s", size, diff)
				}
			})
		}
	}
}

func TestRelayBoundsALine(t *testing.T) {
	long := strings.Repeat("x", 3*maxLine)
	got := relayAll(t, strings.NewReader(long+"\n"), 4096)
	total := 0
	for _, e := range got {
		if len(e.Message) > maxLine {
			t.Errorf("relayed a piece of %d bytes, want at most about %d", len(e.Message), maxLine)
		}
		total += len(e.Message)
	}
	if total != len(long) {
		t.Errorf("relayed %d of %d bytes", total, len(long))
	}
}

// A child's entry, logged in the JSON format and relayed by the daemon's
// journal core, is the entry the child would have sent itself, plus CHILD.
func TestRelayedJournalEntryMatchesDirect(t *testing.T) {
	type sent struct {
		Msg  string
		Pri  journal.Priority
		Vars map[string]string
	}
	journalLogger := func(got *[]sent) *zap.Logger {
		return zap.New(&journalCore{LevelEnabler: zapcore.DebugLevel, send: func(msg string, p journal.Priority, vars map[string]string) error {
			*got = append(*got, sent{msg, p, vars})
			return nil
		}})
	}
	logEntries := func(log *zap.Logger) {
		log = log.With(zap.String("component", "platform"))
		log.Info("restart lease claimed", zap.String("node", "pi5"), zap.Int("turn", 2), zap.Duration("waited", 1500*time.Millisecond))
		log.Error("quorum lost", zap.Error(errors.New("etcd: 1/3 voters healthy")), zap.Bool("learner", false))
	}
	var direct, viaRelay []sent
	logEntries(journalLogger(&direct))

	var pipe bytes.Buffer
	logEntries(zap.New(newJSONCore(zapcore.AddSync(&pipe), zapcore.DebugLevel)))
	relay := NewRelay(journalLogger(&viaRelay), zap.String("child", "restart-turn"))
	if _, err := relay.Write(pipe.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}

	if len(direct) != 2 {
		t.Fatalf("logged %d entries directly, want 2", len(direct))
	}
	want := make([]sent, len(direct))
	for i, d := range direct {
		vars := map[string]string{"CHILD": "restart-turn"}
		for k, v := range d.Vars {
			vars[k] = v
		}
		// The message lists the fields sorted: child comes before component.
		want[i] = sent{Msg: strings.Replace(d.Msg, " component=", " child=restart-turn component=", 1), Pri: d.Pri, Vars: vars}
	}
	if diff := cmp.Diff(want, viaRelay); diff != "" {
		t.Errorf("relayed journal entries (-want +got):\n%s", diff)
	}
}

func TestChildFormat(t *testing.T) {
	t.Setenv(FormatEnv, "")
	if json, err := childFormat(); json || err != nil {
		t.Errorf("unset: json=%v err=%v, want false, nil", json, err)
	}
	name, value, _ := strings.Cut(ChildEnv, "=")
	t.Setenv(name, value)
	if json, err := childFormat(); !json || err != nil {
		t.Errorf("%s: json=%v err=%v, want true, nil", ChildEnv, json, err)
	}
	t.Setenv(FormatEnv, "xml")
	if _, err := New("info"); err == nil || !strings.Contains(err.Error(), FormatEnv) {
		t.Errorf("New with %s=xml: err = %v, want one naming %s", FormatEnv, err, FormatEnv)
	}
}
