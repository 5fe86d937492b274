package k3s

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// Manager brings k3s on one node to the state of the cluster file.
type Manager struct {
	root      host.Root
	log       *zap.Logger
	cluster   *config.Cluster
	node      config.Node
	installer *release.Installer
	services  ServiceManager
	turn      RestartTurn
	// ActiveTimeout bounds the wait for the unit to become active; a first
	// server start pulls images and initialises etcd, which takes minutes on a Pi.
	ActiveTimeout time.Duration
	// Prober asks the other servers for their cluster CA (DecideJoin).
	Prober CAProber
	// InitGrace is how long the first server waits for silent servers
	// before it initialises a new cluster (DefaultInitGrace).
	InitGrace time.Duration
	clock     host.Clock
	backoff   probeBackoff
}

// RestartTurn is a server's turn in a rolling k3s restart: Claim returns
// once this etcd member may restart without costing quorum (the other
// voters healthy, no other server restarting), Release once it is healthy
// again and the next server may go. internal/serverwork implements it with
// a Lease; nil means k3s restarts at once.
type RestartTurn interface {
	Claim(ctx context.Context) error
	Release(ctx context.Context) error
}

// RestartPendingPath marks a restart that a change made necessary but that
// has not happened yet (the rolling restart is waiting, or nodeagent was
// killed): the next Ensure restarts even though the files are in place.
const RestartPendingPath = "/var/lib/nodeagent/k3s-restart-pending"

// NewManager returns a Manager for node n of cluster c. turn, when not nil,
// orders the restarts of an etcd member of a multi-server cluster.
func NewManager(root host.Root, log *zap.Logger, c *config.Cluster, n config.Node, inst *release.Installer, svc ServiceManager, turn RestartTurn) *Manager {
	return &Manager{
		root: root, log: log.With(zap.String("component", "k3s"), zap.String("node", n.Name)),
		cluster: c, node: n, installer: inst, services: svc, turn: turn, ActiveTimeout: 10 * time.Minute,
		Prober: NewHTTPCAProber(defaultProbeBackoff.probeTimeout), InitGrace: DefaultInitGrace,
		clock: host.RealClock{}, backoff: defaultProbeBackoff,
	}
}

// EnsureResult says what Ensure changed.
type EnsureResult struct {
	BinaryChanged bool
	ImagesChanged bool
	ConfigChanged bool
	UnitChanged   bool
	Restarted     bool
}

// Changed reports whether anything on the node changed.
func (r EnsureResult) Changed() bool {
	return r.BinaryChanged || r.ImagesChanged || r.ConfigChanged || r.UnitChanged
}

// Ensure installs the binary, writes config.yaml (joining as j says, from
// DecideJoin) and the unit, enables the unit, restarts k3s when any of
// those changed (else starts it, a no-op when running; an etcd member
// restarts in its turn, RestartTurn) and waits until it is active.
func (m *Manager) Ensure(ctx context.Context, j Join) (EnsureResult, error) {
	if j.Undecided {
		return EnsureResult{}, errors.New("k3s config: the join is not decided")
	}
	var res EnsureResult
	inst, err := m.installer.Install(ctx, m.cluster.K3s, m.node.Arch)
	if err != nil {
		return res, fmt.Errorf("installing k3s %s: %w", m.cluster.K3s.Version, err)
	}
	res.BinaryChanged, res.ImagesChanged = inst.BinaryChanged, inst.ImagesChanged
	token, err := ReadToken(m.root.Path(m.cluster.K3s.TokenFile))
	if err != nil {
		return res, err
	}
	cfg, err := RenderConfig(m.cluster, m.node, token, j)
	if err != nil {
		return res, err
	}
	if res.ConfigChanged, err = WriteConfig(m.root, cfg); err != nil {
		return res, err
	}
	unit := UnitName(m.node.Role)
	if res.UnitChanged, err = m.services.InstallUnit(ctx, unit, UnitFile(m.node.Role)); err != nil {
		return res, fmt.Errorf("installing %s: %w", unit, err)
	}
	if _, err := m.services.Enable(ctx, unit); err != nil {
		return res, fmt.Errorf("enabling %s: %w", unit, err)
	}
	if err := m.startOrRestart(ctx, unit, &res); err != nil {
		return res, err
	}
	return res, nil
}

func (m *Manager) startOrRestart(ctx context.Context, unit string, res *EnsureResult) error {
	pending := m.restartPending()
	if !res.Changed() && !pending {
		m.log.Debug("k3s already up to date", zap.String("unit", unit))
		if err := m.services.Start(ctx, unit); err != nil {
			return fmt.Errorf("starting %s: %w", unit, err)
		}
		return m.waitActive(ctx, unit)
	}
	m.log.Info("restarting k3s", zap.String("unit", unit), zap.Bool("binary", res.BinaryChanged),
		zap.Bool("images", res.ImagesChanged), zap.Bool("config", res.ConfigChanged), zap.Bool("unit_file", res.UnitChanged),
		zap.Bool("pending", pending))
	restart := func(ctx context.Context) error {
		if err := m.services.Restart(ctx, unit); err != nil {
			return fmt.Errorf("restarting %s: %w", unit, err)
		}
		return m.waitActive(ctx, unit)
	}
	if !m.rolls() {
		if err := restart(ctx); err != nil {
			return err
		}
	} else {
		if _, err := host.WriteFileAtomic(m.root.Path(RestartPendingPath), nil, 0o600); err != nil {
			return fmt.Errorf("recording the pending k3s restart: %w", err)
		}
		if err := m.restartInTurn(ctx, restart); err != nil {
			return fmt.Errorf("rolling restart of %s: %w", unit, err)
		}
	}
	res.Restarted = true
	if err := os.Remove(m.root.Path(RestartPendingPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing the pending k3s restart: %w", err)
	}
	return nil
}

// restartInTurn restarts k3s between claiming and releasing the turn. A
// failed restart keeps the turn: it lapses with its Lease, and meanwhile
// the others see this member unhealthy and wait anyway.
func (m *Manager) restartInTurn(ctx context.Context, restart func(context.Context) error) error {
	if err := m.turn.Claim(ctx); err != nil {
		return err
	}
	if err := restart(ctx); err != nil {
		return err
	}
	return m.turn.Release(ctx)
}

func (m *Manager) waitActive(ctx context.Context, unit string) error {
	if err := m.services.WaitActive(ctx, unit, m.ActiveTimeout); err != nil {
		return fmt.Errorf("waiting for %s: %w", unit, err)
	}
	return nil
}

// rolls reports whether a restart here must wait its turn: this server is
// an etcd member of a cluster with other servers. A first start is no
// restart, and agents hold no etcd.
func (m *Manager) rolls() bool {
	if m.turn == nil || m.node.Role != config.RoleServer || len(m.cluster.Servers()) < 2 {
		return false
	}
	return IsEtcdMember(m.root)
}

func (m *Manager) restartPending() bool {
	_, err := os.Stat(m.root.Path(RestartPendingPath))
	return err == nil
}
