package k3s

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nodeagent/nodeagent/internal/release"
)

// change is everything Ensure puts in place, prepared without touching a
// file k3s reads: the release verified beside its targets, config.yaml and
// the unit rendered in memory, and what differs from what is installed.
type change struct {
	release *release.Staged
	config  []byte
	// registries is registries.yaml, or nil for none (nodeagent's removed).
	registries []byte
	unit       []byte
	res        EnsureResult
	// installed is the version of the installed binary, "" when unknown.
	installed string
}

// stage prepares the change for join j: the token is read first, so a node
// without one downloads nothing.
func (m *Manager) stage(ctx context.Context, j Join) (*change, error) {
	installed, err := m.CheckUpgrade()
	if err != nil {
		return nil, err
	}
	tokens, err := ReadTokens(m.root, m.cluster, m.node)
	if err != nil {
		return nil, err
	}
	cfg, err := RenderConfig(m.cluster, m.node, tokens, j)
	if err != nil {
		return nil, err
	}
	rel, err := m.installer.Stage(ctx, m.cluster.K3s, m.node.Arch)
	if err != nil {
		return nil, fmt.Errorf("installing k3s %s: %w", m.cluster.K3s.Version, err)
	}
	c := &change{release: rel, config: cfg, unit: UnitFile(m.node.Role), installed: installed}
	c.res.BinaryChanged, c.res.ImagesChanged = rel.BinaryChanged, rel.ImagesChanged
	same, err := configUpToDate(m.root, cfg)
	if err != nil {
		return nil, err
	}
	c.res.ConfigChanged = !same
	if c.registries, err = RenderRegistries(m.cluster); err != nil {
		return nil, err
	}
	if same, err = registriesUpToDate(m.root, c.registries); err != nil {
		return nil, err
	}
	c.res.RegistriesChanged = !same
	unit := UnitName(m.node.Role)
	have, err := m.services.InstalledUnit(unit)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", unit, err)
	}
	c.res.UnitChanged = !bytes.Equal(have, c.unit)
	return c, nil
}

// commit puts c in place: the binary and images (renames of verified
// files), config.yaml, registries.yaml, the unit (systemd reloads it) and its enablement.
// Each write is a no-op for what is already installed.
func (m *Manager) commit(ctx context.Context, c *change) error {
	if err := c.release.Commit(); err != nil {
		return fmt.Errorf("installing k3s %s: %w", m.cluster.K3s.Version, err)
	}
	if _, err := WriteConfig(m.root, c.config); err != nil {
		return err
	}
	if _, err := WriteRegistries(m.root, c.registries); err != nil {
		return err
	}
	unit := UnitName(m.node.Role)
	if _, err := m.services.InstallUnit(ctx, unit, c.unit); err != nil {
		return fmt.Errorf("installing %s: %w", unit, err)
	}
	if _, err := m.services.Enable(ctx, unit); err != nil {
		return fmt.Errorf("enabling %s: %w", unit, err)
	}
	return nil
}

// Prefetch stages the release (downloaded and verified beside its targets,
// nothing installed) so that the wait for a join decision, which can take
// as long as the other servers take to start, also pays for the download.
// Ensure then finds the staged files verified and does not fetch again; an
// error here is Ensure's to meet and report, when it stages itself.
func (m *Manager) Prefetch(ctx context.Context) error {
	if _, err := ReadTokens(m.root, m.cluster, m.node); err != nil {
		return err
	}
	_, err := m.installer.Stage(ctx, m.cluster.K3s, m.node.Arch)
	return err
}
