package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// journalLines is how much of a failed unit's journal an error carries.
const journalLines = 20

// UnitState is what `nodeagent status` shows of a unit. Result, StatusText
// and MainPID are only set for services.
type UnitState struct {
	Name          string
	LoadState     string // loaded, not-found, masked, ...
	ActiveState   string // active, activating, failed, inactive, ...
	SubState      string // running, exited, dead, auto-restart, ...
	UnitFileState string // enabled, disabled, static, ...
	Result        string // success, exit-code, timeout, ...
	StatusText    string // the service's last STATUS= notification
	MainPID       uint32
}

func (s UnitState) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s/%s (load %s", s.Name, s.ActiveState, s.SubState, s.LoadState)
	if s.Result != "" {
		fmt.Fprintf(&b, ", result %s", s.Result)
	}
	b.WriteString(")")
	if s.StatusText != "" {
		fmt.Fprintf(&b, " status %q", s.StatusText)
	}
	return b.String()
}

// State reads the unit's state over D-Bus. An unknown unit is not an error:
// its LoadState is "not-found".
func (m *Manager) State(ctx context.Context, name string) (UnitState, error) {
	props, err := m.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return UnitState{}, fmt.Errorf("reading state of %s: %w", name, err)
	}
	var svc map[string]any
	if strings.HasSuffix(name, ".service") && props["LoadState"] == "loaded" {
		svc, err = m.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
		if err != nil {
			return UnitState{}, fmt.Errorf("reading service state of %s: %w", name, err)
		}
	}
	return unitState(name, props, svc), nil
}

// unitState picks the fields of UnitState out of the org.freedesktop.systemd1
// Unit and Service property maps.
func unitState(name string, unit, svc map[string]any) UnitState {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	pid, _ := svc["MainPID"].(uint32)
	return UnitState{
		Name:          name,
		LoadState:     str(unit, "LoadState"),
		ActiveState:   str(unit, "ActiveState"),
		SubState:      str(unit, "SubState"),
		UnitFileState: str(unit, "UnitFileState"),
		Result:        str(svc, "Result"),
		StatusText:    str(svc, "StatusText"),
		MainPID:       pid,
	}
}

// WaitActive polls the unit until it is active. It fails early when the
// unit fails or is not loadable, and after timeout; the error is a
// *UnitError with the last state and journal lines. Each answer while it
// waits is host.Progress of ctx.
func (m *Manager) WaitActive(ctx context.Context, name string, timeout time.Duration) error {
	deadline := m.clock.NewTimer(timeout)
	defer deadline.Stop()
	tick := m.clock.NewTicker(m.pollInterval)
	defer tick.Stop()
	for {
		st, err := m.State(ctx, name)
		if err != nil {
			return err
		}
		switch verdict(st) {
		case waitDone:
			m.log.Debug("unit active", zap.String("unit", name))
			return nil
		case waitFailed:
			return m.unitError(ctx, "wait for", name, st.ActiveState)
		}
		// systemd answered: a wait through a long restart is alive.
		host.Progress(ctx)
		select {
		case <-tick.C():
		case <-deadline.C():
			return m.unitError(ctx, "wait for", name, fmt.Sprintf("not active after %s", timeout))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to become active: %w", name, ctx.Err())
		}
	}
}

type waitVerdict int

const (
	waitMore waitVerdict = iota
	waitDone
	waitFailed
)

// verdict decides whether WaitActive is done. "activating", "reloading" and
// "inactive" (a start job may still be queued) keep it waiting; so does
// "deactivating", which is how a Restart= service passes through on the way
// back up.
func verdict(st UnitState) waitVerdict {
	switch {
	case st.LoadState != "" && st.LoadState != "loaded":
		return waitFailed
	case st.ActiveState == "active":
		return waitDone
	case st.ActiveState == "failed":
		return waitFailed
	}
	return waitMore
}

// UnitError is a unit that did not reach the state asked for, with what
// systemd and the journal said about it.
type UnitError struct {
	Op      string // start, restart, stop, wait for
	Reason  string // the job result or why waiting stopped
	State   UnitState
	Journal []string // the unit's last journal lines, oldest first
}

func (e *UnitError) Error() string {
	msg := fmt.Sprintf("%s %s: %s: %s", e.Op, e.State.Name, e.Reason, e.State)
	if len(e.Journal) > 0 {
		msg += "; journal:\n  " + strings.Join(e.Journal, "\n  ")
	}
	return msg
}

func (e *UnitError) Unwrap() error { return ErrUnitFailed }

// unitError gathers the state and journal for a *UnitError; failures to
// read them are logged, not returned, so the original reason is kept.
func (m *Manager) unitError(ctx context.Context, op, name, reason string) error {
	st, err := m.State(ctx, name)
	if err != nil {
		m.log.Warn("reading state of failed unit", zap.String("unit", name), zap.Error(err))
		st.Name = name
	}
	lines, err := m.JournalTail(ctx, name, journalLines)
	if err != nil {
		m.log.Warn("reading journal of failed unit", zap.String("unit", name), zap.Error(err))
	}
	return &UnitError{Op: op, Reason: reason, State: st, Journal: lines}
}
