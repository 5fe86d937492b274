package systemd

import (
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// Notifier reports nodeagent's own state to systemd (Type=notify). Outside
// systemd (no NOTIFY_SOCKET) every call is a no-op.
//
// It leaves NOTIFY_SOCKET in nodeagent's environment, because sd_notify
// reads it on every call; children get ChildEnv instead.
type Notifier struct {
	log *zap.Logger
}

// NewNotifier returns a Notifier that logs to log.
func NewNotifier(log *zap.Logger) *Notifier {
	return &Notifier{log: log.With(zap.String("component", "systemd"))}
}

// Ready tells systemd that startup is finished. Send it only once the
// daemon really serves: units ordered After= nodeagent start then.
func (n *Notifier) Ready() error { return n.send("READY=1") }

// Status sets the one-line status `systemctl status` shows.
func (n *Notifier) Status(text string) error {
	// A newline would start a new assignment in the datagram.
	return n.send("STATUS=" + strings.ReplaceAll(text, "\n", " "))
}

// Watchdog pings the service watchdog. Call it from the loop that does the
// work, so a hung loop stops the pings and systemd restarts nodeagent.
func (n *Notifier) Watchdog() error { return n.send("WATCHDOG=1") }

// Stopping tells systemd that shutdown has begun.
func (n *Notifier) Stopping() error { return n.send("STOPPING=1") }

func (n *Notifier) send(state string) error {
	sent, err := daemon.SdNotify(false, state)
	if err != nil {
		return fmt.Errorf("notifying systemd of %s: %w", state, err)
	}
	if sent {
		n.log.Debug("notified systemd", zap.String("state", state))
	}
	return nil
}

// WatchdogInterval is how often Watchdog must be called (half of
// WatchdogSec=, as sd_watchdog_enabled(3) recommends), or 0 when systemd
// expects no pings from this process.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("reading systemd watchdog settings: %w", err)
	}
	return d / 2, nil
}

// childEnvDrop are the variables through which systemd talks to this
// process only; a child that inherits them could ping or report READY for
// nodeagent (sd_notify(3): "unset_environment").
var childEnvDrop = []string{"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// ChildEnv returns environ without systemd's notify, watchdog and socket
// activation variables, for host.ExecRunner.Env.
func ChildEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
next:
	for _, kv := range environ {
		for _, drop := range childEnvDrop {
			if strings.HasPrefix(kv, drop+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
