package k3s

import (
	"context"
	"fmt"

	"github.com/nodeagent/nodeagent/internal/release"
)

// ReleaseReady says whether the install can get its binary: it is already
// the release's, or the release (URL or air-gap directory) answers with a
// checksum file that lists it.
func (m *Manager) ReleaseReady(ctx context.Context) (string, error) {
	inst, err := m.installer.Check(m.cluster.K3s, m.node.Arch)
	if err == nil && inst.UpToDate() {
		return fmt.Sprintf("%s is k3s %s (sha256 %s)", release.BinaryPath, m.cluster.K3s.Version, inst.SHA256), nil
	}
	loc, err := m.installer.Reachable(ctx, m.cluster.K3s, m.node.Arch)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("k3s %s: %s answers and lists the binary", m.cluster.K3s.Version, loc), nil
}
