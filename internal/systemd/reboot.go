package systemd

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Reboot queues a clean reboot: reboot.target in "replace-irreversibly" mode,
// what `systemctl reboot` falls back to without logind (systemctl's
// start_special). Units are stopped in order, so the journal and state files
// are flushed; the Manager's own D-Bus Reboot() would skip that. It returns
// once the job is queued: the caller is stopped by the shutdown itself.
func (m *Manager) Reboot(ctx context.Context) error {
	ch := make(chan string, 1) // buffered: the result may arrive after we return
	if _, err := m.conn.StartUnitContext(ctx, "reboot.target", "replace-irreversibly", ch); err != nil {
		return fmt.Errorf("queueing reboot.target: %w", err)
	}
	m.log.Warn("reboot queued", zap.String("unit", "reboot.target"))
	return nil
}
