package logging

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxLine bounds what Relay buffers of one line; a longer one is relayed in
// pieces rather than held without limit.
const maxLine = 64 << 10

// Relay is the daemon's end of a child's stderr: each JSON line (the
// child's zap entry, see ChildEnv) is logged again through the daemon's
// logger with its level, message and fields. journald resolves an entry's
// _SYSTEMD_UNIT from the sender's cgroup after the fact, and loses it for a
// child that has already exited, so `journalctl -u nodeagent` missed the
// children's own lines; relayed, every entry comes from the long-lived
// daemon. Lines that are not JSON (a Go panic, an early error) are relayed
// as plain messages at warn level.
//
// Write is for one goroutine (exec.Cmd's copier); Close after the child
// ended relays an unterminated last line.
type Relay struct {
	log *zap.Logger
	buf []byte
}

// NewRelay relays to log with fields added to every entry (e.g. which
// child). A nil log drops everything.
func NewRelay(log *zap.Logger, fields ...zap.Field) *Relay {
	if log == nil {
		log = zap.NewNop()
	}
	return &Relay{log: log.With(fields...)}
}

// Write relays every complete line in p and keeps the rest.
func (r *Relay) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		r.line(r.buf[:i])
		r.buf = r.buf[i+1:]
	}
	for len(r.buf) > maxLine {
		r.line(r.buf[:maxLine])
		r.buf = r.buf[maxLine:]
	}
	if len(r.buf) == 0 {
		r.buf = nil // let a large burst's array go
	}
	return len(p), nil
}

// Close relays what is left of an unterminated last line.
func (r *Relay) Close() error {
	if len(r.buf) > 0 {
		r.line(r.buf)
		r.buf = nil
	}
	return nil
}

func (r *Relay) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil || obj == nil {
		r.log.Warn(string(b))
		return
	}
	level, msg, name := relayedHead(obj)
	log := r.log
	if name != "" {
		log = log.Named(name)
	}
	if ce := log.Check(level, msg); ce != nil {
		ce.Write(relayedFields(obj)...)
	}
}

// relayedHead takes the level, message and logger name out of obj. Levels
// above error are relayed as error: a child's panic or fatal must not
// panic or end the daemon.
func relayedHead(obj map[string]json.RawMessage) (zapcore.Level, string, string) {
	str := func(key string) string {
		var s string
		_ = json.Unmarshal(obj[key], &s)
		delete(obj, key)
		return s
	}
	level, err := zapcore.ParseLevel(str(keyLevel))
	if err != nil {
		level = zapcore.InfoLevel
	}
	if level > zapcore.ErrorLevel {
		level = zapcore.ErrorLevel
	}
	return level, str(keyMessage), str(keyLogger)
}

// relayedFields turns the remaining keys into zap fields of the same kind,
// in key order; objects, arrays and null stay JSON text.
func relayedFields(obj map[string]json.RawMessage) []zap.Field {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]zap.Field, 0, len(keys))
	for _, k := range keys {
		fields = append(fields, relayedField(k, obj[k]))
	}
	return fields
}

func relayedField(key string, raw json.RawMessage) zap.Field {
	var s string
	var b bool
	switch {
	case bytes.Equal(raw, []byte("null")):
		return zap.String(key, "null")
	case json.Unmarshal(raw, &s) == nil:
		return zap.String(key, s)
	case json.Unmarshal(raw, &b) == nil:
		return zap.Bool(key, b)
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return zap.Int64(key, i)
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return zap.Float64(key, f)
	}
	return zap.String(key, string(raw))
}
