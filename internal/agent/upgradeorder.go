package agent

import (
	"context"
	"fmt"

	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/internal/kube"
)

// serverVersions reads the servers' k3s versions for an agent's upgrade
// order (k3s.DecideAgentUpgrade) with k3s's agent controller credentials
// (kube.K3sControllerKubeconfig): the kubelet's may not read other Nodes.
type serverVersions struct{ a *Agent }

func (s serverVersions) Versions(ctx context.Context, names []string) (map[string]string, error) {
	cfg, err := kube.RestConfig(s.a.Root.Path(kube.K3sControllerKubeconfig))
	if err != nil {
		return nil, err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the agent controller's client: %w", err)
	}
	return kube.KubeletVersions(ctx, client, names)
}
