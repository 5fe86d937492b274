package logging

import (
	"fmt"
	"os"

	"go.uber.org/zap/zapcore"
)

// FormatEnv names the log format a nodeagent child must use. The daemon sets
// it (ChildEnv) for the children it relays: they write JSON lines to a pipe
// on their stderr, which the daemon decodes and logs again (see Relay).
const FormatEnv = "NODEAGENT_LOG_FORMAT"

// ChildEnv is the environment entry that makes a nodeagent child log JSON
// lines for the daemon's Relay.
const ChildEnv = FormatEnv + "=" + formatJSON

const formatJSON = "json"

// The keys of the JSON lines; Relay reads them back.
const (
	keyLevel      = "level"
	keyMessage    = "msg"
	keyLogger     = "logger"
	keyStacktrace = "stacktrace"
)

// childFormat reads FormatEnv: true for JSON lines, false when unset, an
// error for any other value.
func childFormat() (bool, error) {
	switch v := os.Getenv(FormatEnv); v {
	case "":
		return false, nil
	case formatJSON:
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: want %s or unset", FormatEnv, v, formatJSON)
	}
}

// newJSONCore writes one JSON object per entry to w. No timestamp: the
// daemon relays each line as it comes and journald stamps it then.
// Durations are strings ("1.5s"), as the journal core prints them.
func newJSONCore(w zapcore.WriteSyncer, level zapcore.LevelEnabler) zapcore.Core {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		LevelKey:       keyLevel,
		MessageKey:     keyMessage,
		NameKey:        keyLogger,
		StacktraceKey:  keyStacktrace,
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	})
	return zapcore.NewCore(enc, w, level)
}
