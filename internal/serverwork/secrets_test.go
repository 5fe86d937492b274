package serverwork

import (
	"testing"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// An air-gapped cluster's status lists its Secrets too: the chart files are
// not needed to know which Secrets the workloads reference.
func TestSecretNeedsOfAnAirGappedCluster(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	f.Cluster.Platform.SealedSecrets.ChartFile = "/srv/charts/sealed-secrets.tgz"
	node := f.Cluster.Nodes[0]
	p := New(Config{Cluster: &f.Cluster, Node: node, Root: host.NewRoot(t.TempDir()), Log: zap.NewNop()})
	needs, err := p.secretNeeds()
	if err != nil {
		t.Fatalf("secret needs of an air-gapped cluster: %v", err)
	}
	found := false
	for _, n := range needs {
		found = found || n.String() == "backup/restic-b2"
	}
	if !found {
		t.Errorf("backup/restic-b2 not among %v", needs)
	}
}
