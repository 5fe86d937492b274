package main

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/platform"
)

// newAgent builds the agent for this machine; the full command line runs the
// platform phases in process.
func newAgent(ctx context.Context, g *cli.Globals, rep agent.Reporter, download k3s.Options) (*agent.Agent, func(), error) {
	return g.NewAgent(ctx, rep, download, func(f *config.File, n config.Node) agent.Platform {
		return newPlatform(g, f, n)
	})
}

func newPlatform(g *cli.Globals, f *config.File, n config.Node) *platform.Platform {
	return platform.New(platform.Config{Log: g.Log, Cluster: &f.Cluster, Node: n, Root: g.HostRoot(), Clock: host.RealClock{}})
}
