package serverwork

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

func TestClusterPlanShowsManifestsAndCapacity(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, show := range []bool{false, true} {
		p, err := ClusterPlan(f, host.NewRoot(t.TempDir()), show)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := plan.WriteText(&b, []plan.Node{p}); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		want := "HelmChart              kube-system/metallb"
		if show {
			want = "kind: HelmChart"
		}
		if !strings.Contains(got, want) || !strings.Contains(got, "Single-node failures") {
			t.Errorf("cluster plan (show=%v) lacks %q or the capacity analysis:\n%s", show, want, got)
		}
	}
}
