package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

// thisNode resolves the node this machine is, with a clear error otherwise.
func (g *globals) thisNode(f *config.File) (config.Node, error) {
	facts, err := identity.LocalFacts()
	if err != nil {
		g.log.Debug("cannot read local identity", zap.Error(err))
	}
	return identity.Resolve(&f.Cluster, g.node, facts)
}

// newAgent builds the agent for this machine with the real host: commands
// without systemd's notify variables, systemd over D-Bus.
func (g *globals) newAgent(ctx context.Context, rep agent.Reporter, download k3s.Options) (*agent.Agent, func(), error) {
	if os.Geteuid() != 0 {
		return nil, nil, fmt.Errorf("nodeagent changes the host (k3s, mounts, UFW): run it as root")
	}
	f, err := g.loadCluster()
	if err != nil {
		return nil, nil, err
	}
	n, err := g.thisNode(f)
	if err != nil {
		return nil, nil, err
	}
	runner := host.NewExecRunner(g.log)
	runner.Env = systemd.ChildEnv(os.Environ())
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sd, err := systemd.New(dialCtx, g.log, g.hostRoot())
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to systemd: %w", err)
	}
	var usbRoot host.Root
	if g.usbRoot != "" {
		usbRoot = host.NewRoot(g.usbRoot)
	}
	a := agent.New(agent.Deps{
		USBRoot: usbRoot,
		Log:     g.log, File: f, Node: n, Root: g.hostRoot(), Runner: runner, Clock: host.RealClock{},
		Reporter: rep, Systemd: sd, Download: download,
	})
	return a, func() { a.Close(); sd.Close() }, nil
}
