package agent

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// TerminalReporter prints one line per phase with its elapsed time, and waits
// on a line of their own.
type TerminalReporter struct {
	mu sync.Mutex
	W  io.Writer
}

// PhaseStarted prints the phase being entered.
func (t *TerminalReporter) PhaseStarted(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, "▸ %s\n", name)
}

// PhaseDone prints the outcome of a phase.
func (t *TerminalReporter) PhaseDone(name string, elapsed time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	fmt.Fprintf(t.W, "%s %s (%s)\n", mark, name, elapsed.Round(time.Millisecond))
}

// Status prints a wait or progress line.
func (t *TerminalReporter) Status(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, "  … %s\n", text)
}

// Notifier is the part of the systemd notifier the daemon reporter needs.
type Notifier interface {
	Status(text string) error
}

// SystemdReporter turns progress into STATUS= lines shown by systemctl status.
type SystemdReporter struct {
	N Notifier
}

// PhaseStarted sets STATUS to the phase.
func (s SystemdReporter) PhaseStarted(name string) { _ = s.N.Status("phase: " + name) }

// PhaseDone sets STATUS to the outcome.
func (s SystemdReporter) PhaseDone(name string, _ time.Duration, err error) {
	if err != nil {
		_ = s.N.Status(fmt.Sprintf("phase %s failed: %s", name, shorten(err.Error(), maxCause)))
	}
}

// Status forwards a wait description.
func (s SystemdReporter) Status(text string) { _ = s.N.Status(text) }
