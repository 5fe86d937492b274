package capacity

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/test/golden"
)

func homelab(t testing.TB) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatalf("loading the built-in homelab: %v", err)
	}
	return &f.Cluster
}

func render(t testing.TB, c *config.Cluster) manifests.Set {
	t.Helper()
	set, err := manifests.Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return set
}

// TestGoldenHomelab pins the report `nodeagent plan` prints for the
// built-in homelab (go test -update rewrites it).
func TestGoldenHomelab(t *testing.T) {
	c := homelab(t)
	report, err := Analyze(c, render(t, c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "homelab-capacity.txt", []byte(report.String()))
}

// TestCheckIsAnalyzeOfTheRender: validate's Check is the analysis of the
// rendered set with the default options.
func TestCheckIsAnalyzeOfTheRender(t *testing.T) {
	c := homelab(t)
	want, err := Analyze(c, render(t, c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("Check differs from Analyze (-want +got):\n%s", diff)
	}
}

func TestPlacementRules(t *testing.T) {
	hdd := map[string]string{"storage-type": "hdd"}
	tests := map[string]Pod{
		"nginx-proxy-manager":     {Prefer: []string{"pi4-1", "pi4-2"}, Spread: true, Pinned: true},
		"pihole":                  {Prefer: []string{"pi4-1", "pi4-2"}, Spread: true, Pinned: true},
		"beszel":                  {Prefer: []string{"pi4-1"}, Pinned: true},
		"beszel-agent":            {DaemonSet: true},
		"immich-server":           {Require: hdd},
		"immich-machine-learning": {Prefer: []string{"pi5"}},
		"immich-postgres":         {Prefer: []string{"pi5"}, Pinned: true},
		"immich-redis":            {Prefer: []string{"pi5"}},
		"home-assistant":          {Require: map[string]string{"zigbee": "true"}, Pinned: true},
		"filebrowser":             {Require: hdd, Pinned: true},
		"restic-backup":           {Require: hdd, Transient: true},
		"postgres-backup":         {Require: hdd, Transient: true},
	}
	pods, err := Pods(render(t, homelab(t)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Pod{}
	for _, p := range pods {
		got[p.Workload] = Pod{Require: p.Require, Prefer: p.Prefer, Spread: p.Spread, DaemonSet: p.DaemonSet, Pinned: p.Pinned, Transient: p.Transient}
	}
	if diff := cmp.Diff(tests, got); diff != "" {
		t.Errorf("placement rules read back from the render (-want +got):\n%s", diff)
	}
}
