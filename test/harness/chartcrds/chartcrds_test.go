package chartcrds

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodeagent/nodeagent/internal/config"
)

// TestSourcesMatchDefaults fails when default.yaml pins a version the
// Sources were not chosen for: bump both together.
func TestSourcesMatchDefaults(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	p := f.Cluster.Platform
	pinned := map[string]string{
		"k3s":           f.Cluster.K3s.Version,
		"metallb":       p.MetalLB.Version,
		"certManager":   p.CertManager.Version,
		"sealedSecrets": p.SealedSecrets.Version,
	}
	for _, s := range Sources {
		want, ok := pinned[s.Component]
		if !ok {
			t.Errorf("source %s: unknown component %q", s.Module, s.Component)
			continue
		}
		if s.Pinned != want {
			t.Errorf("default.yaml pins %s %s, the CRDs are chosen for %s (%s@%s): update Sources",
				s.Component, want, s.Pinned, s.Module, s.Version)
		}
		delete(pinned, s.Component)
	}
	for c := range pinned {
		t.Errorf("no CRD source for %s", c)
	}
}

// TestLoad reads the CRDs from the module cache (downloading them through
// the Go proxy the first time) and checks the kinds nodeagent renders are
// there.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads modules through the Go proxy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crds, err := Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, data := range crds {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		if len(u.GetLabels()) > 0 {
			t.Errorf("%s keeps labels %v", u.GetName(), u.GetLabels())
		}
		names[u.GetName()] = true
	}
	for _, want := range []string{
		"helmcharts.helm.cattle.io", "helmchartconfigs.helm.cattle.io",
		"ipaddresspools.metallb.io", "l2advertisements.metallb.io",
		"clusterissuers.cert-manager.io", "certificates.cert-manager.io",
		"sealedsecrets.bitnami.com",
	} {
		if !names[want] {
			t.Errorf("CRD %s missing; loaded %v", want, names)
		}
	}
}
