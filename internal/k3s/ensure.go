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
	// Status, when set, says what Ensure waits for (systemd's STATUS).
	Status func(string)
	// Servers, on an agent, reads the servers' versions: an upgrade waits
	// until they all run it (DecideAgentUpgrade). nil upgrades at once.
	Servers ServerVersions
}

// RestartTurn is a server's turn in a rolling k3s restart: Claim returns
// once this etcd member may restart without costing quorum (the other
// voters healthy, no other server restarting), Release once it is healthy
// again and the next server may go. version is the k3s version the restart
// installs, "" for a restart that installs none: Claim refuses a version
// that did not come back on another server, Release also waits for this
// Node to report it, and Fail records that it did not come back here
// (reason), stopping the rollout, and releases once etcd is healthy again.
// internal/serverwork implements it with a Lease; nil means k3s restarts
// at once.
type RestartTurn interface {
	Claim(ctx context.Context, version string) error
	Release(ctx context.Context, version string) error
	Fail(ctx context.Context, version, reason string) error
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

// EnsureResult says what Ensure changed; with an error, what it found to
// change, which may not be in place yet (the turn was not granted).
type EnsureResult struct {
	BinaryChanged bool
	ImagesChanged bool
	ConfigChanged bool
	// RegistriesChanged: registries.yaml written or removed.
	RegistriesChanged bool
	UnitChanged       bool
	Restarted         bool
	// Held says what an agent's upgrade waits for; nothing changed.
	Held string
}

// Changed reports whether anything on the node changed.
func (r EnsureResult) Changed() bool {
	return r.BinaryChanged || r.ImagesChanged || r.ConfigChanged || r.RegistriesChanged || r.UnitChanged
}

// Ensure brings k3s to the cluster file (joining as j says, from
// DecideJoin): the binary (and air-gap images), config.yaml, registries.yaml
// and the unit,
// enabled and active.
//
// It first stages every change without touching what k3s reads (stage). With
// nothing to change and no restart pending it only starts k3s, a no-op when
// running. Otherwise it puts the staged files in place and restarts k3s; an
// etcd member of a multi-server cluster (rolls) does both only inside its
// RestartTurn, so k3s restarted by systemd or a power loss meanwhile comes
// back with the old files, not outside the gate (issue #15, item 6).
func (m *Manager) Ensure(ctx context.Context, j Join) (EnsureResult, error) {
	if j.Undecided {
		return EnsureResult{}, errors.New("k3s config: the join is not decided")
	}
	c, err := m.stage(ctx, j)
	if err != nil {
		return EnsureResult{}, err
	}
	res, unit := c.res, UnitName(m.node.Role)
	held, err := m.holdAgentUpgrade(ctx, c)
	if err != nil {
		return res, err
	}
	if held != "" {
		// Nothing goes in place: the staged release waits beside its target.
		return EnsureResult{Held: held}, m.startAsIs(ctx, unit)
	}
	pending := m.restartPending() && !m.pendingUpgradeNeverPlaced(c)
	if !res.Changed() && !pending {
		m.log.Debug("k3s already up to date", zap.String("unit", unit))
		// Writes nothing; enables a unit disabled by hand.
		if err := m.commit(ctx, c); err != nil {
			return res, err
		}
		return res, m.startAsIs(ctx, unit)
	}
	rolls := m.rolls()
	m.log.Info("restarting k3s", zap.String("unit", unit), zap.Bool("binary", res.BinaryChanged),
		zap.Bool("images", res.ImagesChanged), zap.Bool("config", res.ConfigChanged),
		zap.Bool("registries", res.RegistriesChanged), zap.Bool("unit_file", res.UnitChanged),
		zap.Bool("pending", pending), zap.Bool("in_turn", rolls))
	if rolls {
		err = m.restartInTurn(ctx, c)
	} else {
		// No turn to wait for (first start, single server, agent).
		err = m.commitAndRestart(ctx, c)
	}
	if err != nil {
		return res, err
	}
	res.Restarted = true
	return res, m.clearPending()
}

// startAsIs starts k3s as installed, a no-op when it runs. The start job
// of a k3s that is not up (systemd restarted it after a quorum loss) lasts
// until k3s is ready: once its etcd member has quorum.
func (m *Manager) startAsIs(ctx context.Context, unit string) error {
	m.say("waiting for " + unit + " to be active: k3s is ready once its etcd has quorum and its API server answers")
	if err := m.services.Start(ctx, unit); err != nil {
		return fmt.Errorf("starting %s: %w", unit, err)
	}
	return m.waitActive(ctx, unit)
}

func (m *Manager) clearPending() error {
	if err := os.Remove(m.root.Path(RestartPendingPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing the pending k3s restart: %w", err)
	}
	return nil
}

// restartInTurn records the pending restart, then puts the staged change in
// place and restarts k3s between claiming and releasing the turn. The record
// comes first, so a change committed but not yet restarted (a crash, a
// failed restart) is restarted by the next Ensure, in its turn. A failure
// after the claim keeps the turn: it lapses with its Lease, and meanwhile
// the others see this member unhealthy and wait anyway. An upgrade to a new
// k3s version is upgradeInTurn.
func (m *Manager) restartInTurn(ctx context.Context, c *change) error {
	unit := UnitName(m.node.Role)
	version := m.upgradeVersion(c)
	if _, err := host.WriteFileAtomic(m.root.Path(RestartPendingPath), []byte(version), 0o600); err != nil {
		return fmt.Errorf("recording the pending k3s restart: %w", err)
	}
	if err := m.turn.Claim(ctx, version); err != nil {
		return fmt.Errorf("rolling restart of %s: %w", unit, err)
	}
	if version != "" {
		return m.upgradeInTurn(ctx, c, version)
	}
	if err := m.commitAndRestart(ctx, c); err != nil {
		return fmt.Errorf("rolling restart of %s: %w", unit, err)
	}
	if err := m.turn.Release(ctx, ""); err != nil {
		return fmt.Errorf("rolling restart of %s: %w", unit, err)
	}
	return nil
}

// commitAndRestart puts the staged change in place and restarts k3s.
func (m *Manager) commitAndRestart(ctx context.Context, c *change) error {
	if err := m.commit(ctx, c); err != nil {
		return err
	}
	unit := UnitName(m.node.Role)
	if err := m.services.Restart(ctx, unit); err != nil {
		return fmt.Errorf("restarting %s: %w", unit, err)
	}
	return m.waitActive(ctx, unit)
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

func (m *Manager) say(text string) {
	if m.Status != nil {
		m.Status(text)
	}
}

func (m *Manager) restartPending() bool {
	_, err := os.Stat(m.root.Path(RestartPendingPath))
	return err == nil
}
