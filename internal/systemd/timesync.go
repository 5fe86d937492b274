package systemd

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// TimeSynced reports timedated's NTPSynchronized: whether the kernel clock
// is synchronized. A Pi has no RTC, so TLS (k3s join) must wait for it.
func (m *Manager) TimeSynced(ctx context.Context) (bool, error) {
	obj := m.bus.Object("org.freedesktop.timedate1", "/org/freedesktop/timedate1")
	var v dbus.Variant
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0,
		"org.freedesktop.timedate1", "NTPSynchronized").Store(&v)
	if err != nil {
		return false, fmt.Errorf("reading NTPSynchronized from timedate1: %w", err)
	}
	synced, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("reading NTPSynchronized from timedate1: unexpected type %s", v.Signature())
	}
	return synced, nil
}
