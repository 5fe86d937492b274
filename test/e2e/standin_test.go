package e2e

import (
	"fmt"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
)

// The k3s stand-in's kubelet reports the capacity of this TEST-ONLY file
// (test/tools/k3s-standin/README.md) instead of the host's: the cluster
// file's, so the scheduler sees 4 GiB and 8 GiB Pis as on the real homelab.
const standinCapacityFile = "/etc/k3s-standin/capacity.yaml"

// timeoutsDropIn shortens the controllers' failure timeouts through k3s's
// own config keys, in a drop-in beside nodeagent's config.yaml, as an owner
// would: a node is NotReady 30 s after its last heartbeat (default 50 s),
// and its pods are evicted 10 s later (default 300 s), so the failure steps
// take a minute, not six.
const timeoutsDropIn = "/etc/rancher/k3s/config.yaml.d/90-e2e-timeouts.yaml"

const timeoutsYAML = `# TEST-ONLY: the end-to-end test's shorter failure timeouts.
kube-controller-manager-arg:
  - node-monitor-grace-period=30s
kube-apiserver-arg:
  - default-not-ready-toleration-seconds=10
  - default-unreachable-toleration-seconds=10
`

// parsedCluster is the run's cluster file as nodeagent reads it.
func (h *homelab) parsedCluster(t testing.TB) *config.File {
	t.Helper()
	f, err := config.Parse("cluster.yaml", h.cluster)
	if err != nil {
		t.Fatalf("the run's cluster file: %v", err)
	}
	return f
}

// standinSettings writes the stand-in's capacity file and the timeouts
// drop-in onto a freshly flashed card.
func (h *homelab) standinSettings(t *testing.T, n *node) {
	t.Helper()
	cn, ok := h.parsedCluster(t).Node(n.name)
	if !ok {
		t.Fatalf("%s is not in the cluster file", n.name)
	}
	capacity := fmt.Sprintf("cpu: %q\nmemory: %s\n", cn.Capacity.CPU, cn.Capacity.Memory)
	n.writeFile(t, standinCapacityFile, []byte(capacity), 0o644)
	n.writeFile(t, timeoutsDropIn, []byte(timeoutsYAML), 0o644)
}
