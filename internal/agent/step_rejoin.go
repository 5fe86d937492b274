package agent

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// rejoinRestored runs, on a server that is an etcd member, the check for a
// restore on another server without it (`nodeagent restore`). It comes
// before the join is decided: a server that moved its data aside and
// rejoined through the restored server then keeps that config.yaml.
func (s k3sStep) rejoinRestored(ctx context.Context) error {
	a := s.a
	if a.server == nil || a.Node.Role != config.RoleServer || len(a.File.Cluster.Servers()) < 2 || !k3s.IsEtcdMember(a.Root) {
		return nil
	}
	return a.server.RejoinRestored(ctx, a.Reporter.Status)
}
