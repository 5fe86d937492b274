package main

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/serverwork"
)

// newAgent builds the agent for this machine; the full command line runs the
// server work in process.
func newAgent(ctx context.Context, g *cli.Globals, rep agent.Reporter, download release.Options) (*agent.Agent, func(), error) {
	return g.NewAgent(ctx, rep, download, func(f *config.File, n config.Node) agent.ServerWork {
		return newServerWork(g, f, n)
	})
}

func newServerWork(g *cli.Globals, f *config.File, n config.Node) *serverwork.Work {
	return serverwork.New(serverwork.Config{Log: g.Log, Cluster: &f.Cluster, File: f, Node: n, Root: g.HostRoot(), Clock: host.RealClock{}})
}
