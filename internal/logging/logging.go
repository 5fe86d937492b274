// Package logging builds nodeagent's zap logger: readable lines in a terminal,
// native structured journald entries when stderr is the journal, so that
// `journalctl -u nodeagent PHASE=k3s` filters on fields, and JSON lines in a
// child of the daemon, which relays them (Relay) as its own entries.
package logging

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger at level ("debug", "info", "warn", "error").
func New(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	asChild, err := childFormat()
	if err != nil {
		return nil, err
	}
	if asChild {
		return zap.New(newJSONCore(zapcore.Lock(os.Stderr), lvl)), nil
	}
	if StderrIsJournal() && journal.Enabled() {
		return zap.New(NewJournalCore(lvl)), nil
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
	enc.EncodeCaller = nil
	if isTerminal(os.Stderr) {
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), lvl)
	return zap.New(core), nil
}

// StderrIsJournal reports whether systemd connected stderr to journald: it
// sets JOURNAL_STREAM to the device and inode of that stream.
func StderrIsJournal() bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		return false
	}
	return fmt.Sprint(st.Dev) == dev && fmt.Sprint(st.Ino) == ino
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
