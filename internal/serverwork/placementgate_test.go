package serverwork

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// homelabTargets renders the built-in homelab and returns its analysis
// and its workloads' keys.
func homelabTargets(t *testing.T) (*config.Cluster, manifests.Set, *capacity.Report) {
	t.Helper()
	c, _ := defaultNode(t, "pi4-1")
	set, err := manifests.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	report, err := capacity.Analyze(c, set, capacity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, set, report
}

// Before the first apply every Deployment and StatefulSet is new and waits
// for the node the analysis places it on; a workload that exists waits for
// nothing; DaemonSets and CronJobs are not waited for.
func TestPlacementTargets(t *testing.T) {
	_, set, report := homelabTargets(t)
	keys := workloadKeys(set)
	if _, ok := keys["beszel-agent"]; ok {
		t.Errorf("the beszel-agent DaemonSet is among the workloads waited for: %v", keys)
	}
	if _, ok := keys["restic-backup"]; ok {
		t.Errorf("the restic-backup CronJob is among the workloads waited for: %v", keys)
	}
	if got := keys["immich-postgres"]; got != "StatefulSet/immich/immich-postgres" {
		t.Errorf("immich-postgres's key = %q", got)
	}
	want := map[string][]string{
		"pi4-1": {"beszel", "nginx-proxy-manager", "pihole"},
		"pi4-2": {"home-assistant", "nginx-proxy-manager", "pihole"},
		"pi5":   {"filebrowser", "immich-machine-learning", "immich-postgres", "immich-redis", "immich-server"},
	}
	got := placementTargets(report, keys)
	for _, ws := range got {
		slices.Sort(ws)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets before the first apply (-want +got):\n%s", diff)
	}
	existing := maps.Clone(keys)
	for _, w := range []string{"immich-server", "immich-machine-learning", "immich-postgres", "immich-redis", "home-assistant"} {
		delete(existing, w)
	}
	got = placementTargets(report, existing)
	want = map[string][]string{"pi4-1": want["pi4-1"], "pi4-2": {"nginx-proxy-manager", "pihole"}, "pi5": {"filebrowser"}}
	for _, ws := range got {
		slices.Sort(ws)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets once immich and home-assistant exist (-want +got):\n%s", diff)
	}
	if got := placementTargets(report, map[string]string{}); len(got) != 0 {
		t.Errorf("targets with every workload created = %v, want none", got)
	}
}

func TestNodeNotReady(t *testing.T) {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	for _, tc := range []struct {
		name string
		node corev1.Node
		want string
	}{
		{"ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, ""},
		{"no condition yet", corev1.Node{}, "not Ready"},
		{"not ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{notReady}}}, "not Ready"},
		{"not initialised by the cloud controller", corev1.Node{
			Spec:   corev1.NodeSpec{Taints: []corev1.Taint{{Key: taintUninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, "tainted " + taintUninitialized},
		{"the owner's taint", corev1.Node{
			Spec:   corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Value: "media", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, ""},
		{"cordoned", corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, ""},
	} {
		if got := nodeNotReady(&tc.node); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
