package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// Join provisions the node: preflight → disk → firewall → k3s (in join
// order) → node registered → labels → quorum gate (servers) → manifests
// (the lease holder). Every phase is idempotent, so Join after a crash
// converges, and Join on a joined node changes nothing.
func (a *Agent) Join(ctx context.Context) error {
	phases := a.joinPhases()
	err := runPhases(ctx, a.log, a.Clock, a.Reporter, phases)
	st, loadErr := LoadState(a.Root)
	if loadErr != nil {
		return errors.Join(err, loadErr)
	}
	if err != nil {
		st.recordError(err, a.Clock.Now())
		return errors.Join(err, SaveState(a.Root, st))
	}
	if !st.Joined {
		st.Joined, st.JoinedAt = true, a.Clock.Now().UTC()
	}
	return SaveState(a.Root, st)
}

func (a *Agent) joinPhases() []Phase {
	server := a.Node.Role == config.RoleServer
	return []Phase{
		{Name: "preflight", Run: a.preflight},
		{Name: "disk", Skip: func() bool { return len(a.Node.Disks) == 0 }, Run: a.joinDisks},
		{Name: "firewall", Skip: func() bool { return !a.cluster().Firewall.IsEnabled() }, Run: a.applyFirewall},
		{Name: "k3s", Run: a.joinK3s},
		{Name: "register", Run: a.waitRegistered},
		{Name: "labels", Run: a.reconcileLabelsOnce},
		{Name: "quorum", Skip: func() bool { return !server }, Run: a.waitQuorum},
		{Name: "manifests", Skip: func() bool { return !server }, Run: a.applyManifests},
	}
}

// preflight makes sure k3s can run: the memory cgroup (a reboot away on a
// fresh Pi), a synchronised clock before any TLS, the kernel modules.
func (a *Agent) preflight(ctx context.Context) error {
	if c := preflight.CheckMemoryCgroup(a.Root); !c.OK {
		res, err := preflight.EnsureCmdline(a.Root)
		if err != nil {
			return err
		}
		if res.RebootRequired {
			a.log.Warn("memory cgroup enabled on the kernel command line: reboot to continue", zap.String("file", res.Path))
			return fmt.Errorf("%w: %s now enables the memory cgroup", ErrRebootRequired, res.Path)
		}
	}
	for _, c := range preflight.CheckModules(a.Root, preflight.RequiredModules) {
		if !c.OK {
			// k3s's unit loads br_netfilter and overlay itself; say so, go on.
			a.log.Warn("kernel module check", zap.String("check", c.Name), zap.String("message", c.Message))
		}
	}
	if a.Systemd == nil {
		return nil
	}
	synced := func() (bool, error) { return a.Systemd.TimeSynced(ctx) }
	pf := a.cluster().Preflight
	if pf.TimeSync == config.TimeSyncWarn {
		if c := preflight.CheckTimeSync(synced); !c.OK {
			a.log.Warn("clock not synchronised: going on as preflight.timeSync is warn", zap.String("message", c.Message))
		}
		return nil
	}
	a.Reporter.Status("waiting for the clock to be synchronised (the Pi has no RTC)")
	return preflight.WaitTimeSync(ctx, a.Clock, synced, pf.TimeSyncTimeout.Duration, 2*time.Second)
}

// joinDisks waits for each disk up to its deviceTimeout and mounts it. A disk
// that has not appeared is not an error: the daemon mounts it when it does,
// and until then its labels stay off so no pod writes to the SD card.
func (a *Agent) joinDisks(ctx context.Context) error {
	for _, d := range a.Node.Disks {
		a.Reporter.Status(fmt.Sprintf("waiting up to %s for the disk of %s", d.DeviceTimeout.Duration, d.MountPoint))
		if _, err := a.disks.WaitFor(ctx, d, disk.WatchConfig{}); err != nil {
			if disk.IsNotFound(err) || errors.Is(err, context.DeadlineExceeded) {
				a.log.Warn("disk not present: continuing without it", zap.String("mountPoint", d.MountPoint), zap.Error(err))
				continue
			}
			return err
		}
		res, err := a.disks.Ensure(ctx, d)
		if err != nil {
			return fmt.Errorf("preparing %s: %w", d.MountPoint, err)
		}
		a.log.Info("disk ready", zap.String("mountPoint", d.MountPoint), zap.Any("result", res))
	}
	return nil
}

func (a *Agent) applyFirewall(ctx context.Context) error {
	res, err := a.firewall.Apply(ctx, a.cluster(), a.Node)
	if err != nil {
		return err
	}
	a.log.Info("firewall in place", zap.Int("changes", len(res.Applied)))
	return nil
}

// joinK3s waits for the node before this one in the join order (only while
// k3s has never started here: once etcd data exists, k3s ignores the join
// settings anyway), then installs, configures and starts k3s.
func (a *Agent) joinK3s(ctx context.Context) error {
	if !a.k3sHasData() {
		if pred, ok := a.cluster().JoinPredecessor(a.Node); ok {
			a.Reporter.Status(fmt.Sprintf("waiting for %s (%s:6443) to answer before joining", pred.Name, pred.Address))
			err := k3s.WaitForPredecessor(ctx, a.cluster(), a.Node, func(attempt int, err error) {
				a.log.Info("waiting for the previous node to answer", zap.String("waitingFor", pred.Name), zap.Int("attempt", attempt), zap.Error(err))
			})
			if err != nil {
				return err
			}
		}
	}
	res, err := a.k3s.Ensure(ctx)
	if err != nil {
		return err
	}
	a.log.Info("k3s running", zap.Bool("changed", res.Changed()), zap.Bool("restarted", res.Restarted))
	return nil
}

// k3sHasData reports whether k3s has started here before (server etcd data
// or an agent's node password).
func (a *Agent) k3sHasData() bool {
	for _, p := range []string{k3s.EtcdDataDir, "/etc/rancher/node/password"} {
		if _, err := os.Stat(a.Root.Path(p)); err == nil {
			return true
		}
	}
	return false
}

// waitQuorum holds the manifests back until etcd has quorum.
func (a *Agent) waitQuorum(ctx context.Context) error {
	if a.server == nil {
		return errNoServerWork
	}
	return a.server.WaitQuorum(ctx, a.Reporter.Status)
}

// applyManifests applies the cluster's manifests as the apply lease holder.
func (a *Agent) applyManifests(ctx context.Context) error {
	if a.server == nil {
		return errNoServerWork
	}
	return a.server.ApplyManifests(ctx, a.Reporter.Status)
}
