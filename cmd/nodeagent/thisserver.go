package main

import (
	"fmt"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
)

// thisServer loads the cluster file and this node, which must be a k3s
// server; on an agent the error says why the command needs a server.
func thisServer(g *cli.Globals, why string) (*config.File, config.Node, error) {
	f, err := g.LoadCluster()
	if err != nil {
		return nil, config.Node{}, err
	}
	n, err := g.ThisNode(f)
	if err != nil {
		return nil, config.Node{}, err
	}
	if n.Role != config.RoleServer {
		return nil, config.Node{}, fmt.Errorf("node %s is a k3s agent: %s", n.Name, why)
	}
	return f, n, nil
}
