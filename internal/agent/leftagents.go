package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// leftAgentsEvery is how often a server looks for agents that asked to
// leave: one List of Nodes by label, which usually returns none. An
// agent's leave waits on nothing from it; the owner sees the Node go
// within about this plus remove-node's minute of watching the heartbeat.
const leftAgentsEvery = 30 * time.Second

// watchLeftAgents deletes, through the server work, the Nodes of agents
// that asked for it when they left (an agent's kubelet may not delete a
// Node). Every server watches, so one down does not strand a request;
// the deletion is idempotent.
func (a *Agent) watchLeftAgents(ctx context.Context, c *config.Cluster) error {
	tick := a.Clock.NewTicker(leftAgentsEvery)
	defer tick.Stop()
	var client metadata.Interface
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
		if client == nil {
			// k3s.yaml appears once k3s has started; the worker's client
			// is not shared with this goroutine.
			c, err := kube.NewMetadataClient(a.Root.Path(kube.K3sKubeconfig))
			if err != nil {
				continue
			}
			client = c
		}
		a.removeLeftAgents(ctx, client, c)
	}
}

func (a *Agent) removeLeftAgents(ctx context.Context, client metadata.Interface, c *config.Cluster) {
	names, err := kube.NodesAskingToLeave(ctx, client)
	if err != nil {
		a.log.Debug("looking for agents that asked to leave", zap.Error(err))
		return
	}
	for _, name := range leftAgentsToRemove(names, c, a.Node.Name) {
		a.log.Info("an agent asked to leave: removing its Node", zap.String("agent", name))
		err := a.server.RemoveLeftAgent(ctx, name, func(text string) { a.log.Info(text, zap.String("agent", name)) })
		if err != nil && ctx.Err() == nil {
			// Typically its kubelet still ran a moment ago: the next look
			// tries again.
			a.log.Info("the agent's Node stays for now", zap.String("agent", name), zap.Error(err))
		}
	}
}

// leftAgentsToRemove keeps, of the Nodes that asked to leave, the agents of
// the cluster file: a server's Node never goes this way, whatever its
// labels say.
func leftAgentsToRemove(asking []string, c *config.Cluster, self string) []string {
	var out []string
	for _, name := range asking {
		n, ok := c.Node(name)
		if ok && n.Role == config.RoleAgent && name != self {
			out = append(out, name)
		}
	}
	return out
}
