package k3s

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// ServerVersions reads the k3s version each named server's Node reports
// (status.nodeInfo.kubeletVersion: k3s reports its own, "v1.33.5+k3s1").
// A server without a Node is missing from the map.
type ServerVersions interface {
	Versions(ctx context.Context, servers []string) (map[string]string, error)
}

// Bounds of an agent's wait for the servers before it swaps its binary:
// past agentUpgradeWait the pass goes on with the old k3s, and the next
// full pass (the daemon's resync) asks again.
const (
	agentUpgradeWait = 2 * time.Minute
	agentUpgradePoll = 15 * time.Second
)

// AgentUpgrade is DecideAgentUpgrade's answer: Go, or what the agent
// waits for.
type AgentUpgrade struct {
	Go      bool
	Waiting string
}

// DecideAgentUpgrade lets an agent upgrade k3s to version only once every
// server's Node reports version: servers first, then agents (k3s's upgrade
// order; Kubernetes' skew policy keeps a kubelet from being newer than
// its apiserver). A server still on another version, one without a Node,
// and one whose rollout stopped and rolled back to the previous version
// all keep the agent on its version.
func DecideAgentUpgrade(version string, servers []string, reported map[string]string) AgentUpgrade {
	var behind []string
	for _, s := range servers {
		switch v, ok := reported[s]; {
		case !ok:
			behind = append(behind, s+" (no Node)")
		case v != version:
			behind = append(behind, s+" ("+v+")")
		}
	}
	if len(behind) == 0 {
		return AgentUpgrade{Go: true}
	}
	sort.Strings(behind)
	return AgentUpgrade{Waiting: fmt.Sprintf("k3s %s staged; waiting for every server to run it before this agent does: %s",
		version, strings.Join(behind, ", "))}
}

// holdAgentUpgrade is what an agent whose change c upgrades k3s still
// waits for after polling the servers up to agentUpgradeWait; "" to go
// ahead (and always on a server, or with no Servers to ask).
func (m *Manager) holdAgentUpgrade(ctx context.Context, c *change) (string, error) {
	version := m.upgradeVersion(c)
	if m.node.Role != config.RoleAgent || m.Servers == nil || version == "" {
		return "", nil
	}
	names := make([]string, 0, len(m.cluster.Servers()))
	for _, s := range m.cluster.Servers() {
		names = append(names, s.Name)
	}
	waiting := ""
	err := host.PollUntil(ctx, m.clock, "the servers running k3s "+version, agentUpgradeWait, agentUpgradePoll,
		func(ctx context.Context) (bool, error) {
			reported, err := m.Servers.Versions(ctx, names)
			if err != nil {
				waiting = fmt.Sprintf("k3s %s staged; waiting to read the servers' versions: %v", version, err)
				m.say(waiting)
				return false, err
			}
			d := DecideAgentUpgrade(version, names, reported)
			if !d.Go {
				waiting = d.Waiting
				m.say(waiting)
				return false, errors.New(d.Waiting)
			}
			return true, nil
		})
	if err == nil {
		return "", nil
	}
	if ctx.Err() != nil {
		return "", err
	}
	m.log.Info("agent upgrade held: the servers do not all run the new version yet", zap.String("version", version), zap.String("waiting", waiting))
	return waiting, nil
}
