package manifests

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/internal/config"
)

// ChartGroups names, by API group, the HelmChart whose install brings the
// group's kinds (their CRDs and the webhooks that admit them), for each
// platform chart the cluster file enables. The apply waits for that chart's
// install before it applies objects of the group (PhaseChartResources, or
// an overlay's).
func ChartGroups(c *config.Cluster) map[string]types.NamespacedName {
	p := c.Platform
	charts := []struct {
		h      config.HelmComponent
		groups []string
	}{
		{p.MetalLB, []string{"metallb.io"}},
		{p.CertManager.HelmComponent, []string{"cert-manager.io", "acme.cert-manager.io"}},
		{p.SealedSecrets, []string{"bitnami.com"}},
	}
	out := map[string]types.NamespacedName{}
	for _, ch := range charts {
		if !ch.h.IsEnabled() {
			continue
		}
		for _, g := range ch.groups {
			out[g] = types.NamespacedName{Namespace: helmChartNamespace, Name: ch.h.Chart}
		}
	}
	return out
}
