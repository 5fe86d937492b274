package k3s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"
)

// ErrRolledBack is an upgrade that did not come back within
// k3s.upgradeTimeout: the previous binary is running again and the rollout
// stopped.
var ErrRolledBack = errors.New("k3s upgrade rolled back")

// upgradeVersion is the k3s version the restart of c installs: the cluster
// file's, when c replaces a binary of another known version, or when an
// upgrade committed earlier never came back through its turn (nodeagent
// stopped in between: the pending record names it). "" for a restart that
// installs no new version (a config change, a damaged binary replaced).
func (m *Manager) upgradeVersion(c *change) string {
	want := m.cluster.K3s.Version
	if c.res.BinaryChanged {
		if c.installed != "" && c.installed != want {
			return want
		}
		return ""
	}
	data, err := os.ReadFile(m.root.Path(RestartPendingPath))
	if err == nil && strings.TrimSpace(string(data)) == want && c.installed == want {
		return want
	}
	return ""
}

// pendingUpgradeNeverPlaced reports whether the pending restart is an
// upgrade whose binary never went in place (its turn was refused: the
// version failed elsewhere) while the installed binary is known to be
// another version: nothing changed, so nothing needs a restart, for
// instance once the cluster file went back to the installed version.
func (m *Manager) pendingUpgradeNeverPlaced(c *change) bool {
	data, err := os.ReadFile(m.root.Path(RestartPendingPath))
	v := strings.TrimSpace(string(data))
	return err == nil && v != "" && c.installed != "" && c.installed != v
}

// upgradeInTurn installs c, which upgrades k3s to version, inside the
// turn already claimed: the release keeps the replaced binary, k3s
// restarts, and the turn is released once this server came back (its etcd
// member healthy, its Node reporting version) within k3s.upgradeTimeout.
// Otherwise the previous binary goes back, k3s restarts on it, the turn
// records the failure (no other server starts version) and is released.
func (m *Manager) upgradeInTurn(ctx context.Context, c *change, version string) error {
	unit := UnitName(m.node.Role)
	if err := m.commit(ctx, c); err != nil {
		return fmt.Errorf("upgrading k3s to %s: %w", version, err)
	}
	bound := m.cluster.K3s.UpgradeTimeout.Duration
	m.log.Info("upgrading k3s", zap.String("from", c.installed), zap.String("to", version), zap.Duration("bound", bound))
	uctx, cancel := context.WithTimeout(ctx, bound)
	err := m.restartAndRelease(uctx, unit, version)
	cancel()
	if err == nil {
		m.log.Info("k3s upgraded", zap.String("version", version))
		return nil
	}
	if ctx.Err() != nil {
		// nodeagent is stopping: not the upgrade's failure. The pending
		// record names the version; the next Ensure waits for it again.
		return fmt.Errorf("upgrading k3s to %s: %w", version, err)
	}
	reason := fmt.Sprintf("not back within %s: %v", bound, err)
	m.log.Error("k3s did not come back after the upgrade; putting the previous binary back",
		zap.String("version", version), zap.String("previous", c.installed), zap.Error(err))
	if rerr := m.rollback(ctx, unit); rerr != nil {
		return fmt.Errorf("upgrading k3s to %s: %s; rolling back: %w", version, reason, rerr)
	}
	if ferr := m.turn.Fail(ctx, version, reason); ferr != nil {
		return fmt.Errorf("upgrading k3s to %s: %s; rolled back to %s, but the failure was not recorded: %w", version, reason, c.installed, ferr)
	}
	if err := m.clearPending(); err != nil {
		return err
	}
	return fmt.Errorf("%w: k3s %s on %s %s; k3s %s runs again and the rollout stopped (the other servers stay on their version)",
		ErrRolledBack, version, m.node.Name, reason, c.installed)
}

func (m *Manager) restartAndRelease(ctx context.Context, unit, version string) error {
	if err := m.services.Restart(ctx, unit); err != nil {
		return fmt.Errorf("restarting %s: %w", unit, err)
	}
	if err := m.waitActive(ctx, unit); err != nil {
		return err
	}
	return m.turn.Release(ctx, version)
}

// rollback puts the previous binary back and restarts k3s on it.
func (m *Manager) rollback(ctx context.Context, unit string) error {
	if err := m.installer.RestorePrevious(); err != nil {
		return err
	}
	if err := m.services.Restart(ctx, unit); err != nil {
		return fmt.Errorf("restarting %s on the previous binary: %w", unit, err)
	}
	return m.waitActive(ctx, unit)
}
