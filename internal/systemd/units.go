package systemd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// UnitDir is where nodeagent installs the unit files it owns.
const UnitDir = "/etc/systemd/system"

// UnitPath is the host path of the unit file name installs.
func UnitPath(name string) string { return UnitDir + "/" + name }

// InstallUnit writes the unit file name with content under the root and
// reloads systemd, both only when the file's bytes differ from content.
func (m *Manager) InstallUnit(ctx context.Context, name string, content []byte) (changed bool, err error) {
	if err := validUnitName(name); err != nil {
		return false, err
	}
	path := m.root.Path(UnitPath(name))
	changed, err = host.WriteFileAtomic(path, content, 0o644)
	if err != nil {
		return false, fmt.Errorf("installing unit %s: %w", name, err)
	}
	if !changed {
		m.log.Debug("unit file already up to date", zap.String("unit", name))
		return false, nil
	}
	m.log.Info("unit file written", zap.String("unit", name), zap.String("path", path))
	if err := m.conn.ReloadContext(ctx); err != nil {
		return true, fmt.Errorf("reloading systemd after installing %s: %w", name, err)
	}
	return true, nil
}

// InstalledUnit returns the content of the unit file name, nil when there
// is none.
func (m *Manager) InstalledUnit(name string) ([]byte, error) {
	if err := validUnitName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(m.root.Path(UnitPath(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading unit %s: %w", name, err)
	}
	return data, nil
}

// Enable enables name persistently (the symlinks its [Install] section
// asks for); it does nothing when the unit is already enabled.
func (m *Manager) Enable(ctx context.Context, name string) (changed bool, err error) {
	prop, err := m.conn.GetUnitPropertyContext(ctx, name, "UnitFileState")
	if err != nil {
		return false, fmt.Errorf("reading enablement of %s: %w", name, err)
	}
	if state, _ := prop.Value.Value().(string); state == "enabled" {
		m.log.Debug("unit already enabled", zap.String("unit", name))
		return false, nil
	}
	hasInstall, changes, err := m.conn.EnableUnitFilesContext(ctx, []string{name}, false, false)
	if err != nil {
		return false, fmt.Errorf("enabling %s: %w", name, err)
	}
	if !hasInstall {
		return false, fmt.Errorf("enabling %s: unit file has no [Install] section", name)
	}
	if len(changes) == 0 {
		return false, nil
	}
	m.log.Info("unit enabled", zap.String("unit", name), zap.Int("symlinks", len(changes)))
	// UnitFileState is cached by systemd until the next reload; systemctl
	// enable reloads for the same reason.
	if err := m.conn.ReloadContext(ctx); err != nil {
		return true, fmt.Errorf("reloading systemd after enabling %s: %w", name, err)
	}
	return true, nil
}

// Start starts name ("replace" mode) and waits for the job to finish.
func (m *Manager) Start(ctx context.Context, name string) error {
	return m.runJob(ctx, "start", name, m.conn.StartUnitContext)
}

// Restart restarts name (starting it if it is stopped) and waits for the job.
func (m *Manager) Restart(ctx context.Context, name string) error {
	return m.runJob(ctx, "restart", name, m.conn.RestartUnitContext)
}

// Stop stops name and waits for the job to finish.
func (m *Manager) Stop(ctx context.Context, name string) error {
	return m.runJob(ctx, "stop", name, m.conn.StopUnitContext)
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// runJob queues a job and waits for its JobRemoved result. A result other
// than "done" becomes a *UnitError with the unit's state and journal tail.
func (m *Manager) runJob(ctx context.Context, op, name string, job jobFunc) error {
	if err := validUnitName(name); err != nil {
		return err
	}
	// Buffered: go-systemd sends the result while holding its job lock.
	ch := make(chan string, 1)
	if _, err := job(ctx, name, "replace", ch); err != nil {
		return fmt.Errorf("queueing %s of %s: %w", op, name, err)
	}
	m.log.Debug("job queued", zap.String("unit", name), zap.String("op", op))
	var result string
	select {
	case result = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s of %s: %w", op, name, ctx.Err())
	}
	if result == "done" {
		m.log.Info("job done", zap.String("unit", name), zap.String("op", op))
		return nil
	}
	return m.unitError(ctx, op, name, "job "+result)
}

// validUnitName rejects names that would write outside UnitDir.
func validUnitName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("invalid unit name %q", name)
	}
	if !strings.Contains(name, ".") {
		return fmt.Errorf("unit name %q has no type suffix", name)
	}
	return nil
}

// ErrUnitFailed is wrapped by every *UnitError, for callers that only need
// to know that the unit (not the bus) failed.
var ErrUnitFailed = errors.New("unit failed")
