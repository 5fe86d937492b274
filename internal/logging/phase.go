package logging

import (
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// PhaseKey is the field that names the provisioning phase (PHASE= in the
// journal).
const PhaseKey = "phase"

// Phase marks the entries logged while a phase runs with that phase, so
// that `journalctl -u nodeagent PHASE=k3s` shows everything the phase said,
// from whichever package (and relayed child) said it, not only the agent's
// own started/done lines. A daemon runs one phase at a time.
type Phase struct {
	current atomic.Pointer[string]
}

// Set marks the phase in progress; "" ends it.
func (p *Phase) Set(name string) {
	if name == "" {
		p.current.Store(nil)
		return
	}
	p.current.Store(&name)
}

// Logger returns log with the phase added to each entry logged while one
// is set and the entry names none itself.
func (p *Phase) Logger(log *zap.Logger) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return &phaseCore{Core: c, phase: p}
	}))
}

type phaseCore struct {
	zapcore.Core
	phase *Phase
	// named: a phase field was added with With, which then wins.
	named bool
}

func (c *phaseCore) With(fields []zapcore.Field) zapcore.Core {
	return &phaseCore{Core: c.Core.With(fields), phase: c.phase, named: c.named || hasPhase(fields)}
}

func (c *phaseCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *phaseCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if name := c.phase.current.Load(); name != nil && !c.named && !hasPhase(fields) {
		fields = append(fields[:len(fields):len(fields)], zap.String(PhaseKey, *name))
	}
	return c.Core.Write(e, fields)
}

func hasPhase(fields []zapcore.Field) bool {
	for _, f := range fields {
		if f.Key == PhaseKey {
			return true
		}
	}
	return false
}
