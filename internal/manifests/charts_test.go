package manifests

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// TestChartGroupsCoverChartResources checks the table against the render:
// every object of PhaseChartResources has a chart, and that chart is a
// rendered HelmChart, so the apply waits for a chart that exists.
func TestChartGroupsCoverChartResources(t *testing.T) {
	c := homelab(t)
	set := render(t, c)
	groups := ChartGroups(c)
	rendered := map[types.NamespacedName]bool{}
	for _, u := range set.Phase(PhaseCharts) {
		rendered[types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}] = true
	}
	objs := set.Phase(PhaseChartResources)
	if len(objs) == 0 {
		t.Fatal("the homelab renders no chart resources")
	}
	for _, u := range objs {
		chart, ok := groups[u.GroupVersionKind().Group]
		if !ok {
			t.Errorf("%s: no chart brings group %q", Key(u), u.GroupVersionKind().Group)
			continue
		}
		if !rendered[chart] {
			t.Errorf("%s: its chart %s is not rendered", Key(u), chart)
		}
	}
}

func TestChartGroupsLeaveOutDisabledCharts(t *testing.T) {
	c := homelab(t)
	off := false
	c.Platform.MetalLB.Enabled = &off
	groups := ChartGroups(c)
	if chart, ok := groups["metallb.io"]; ok {
		t.Errorf("metallb disabled, yet metallb.io waits for %s", chart)
	}
	if _, ok := groups["cert-manager.io"]; !ok {
		t.Error("cert-manager.io has no chart")
	}
}
