package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The embedded CRDs are the real ones: HelmChart's schema knows its fields
// (a permissive one would preserve unknown fields), and every chart the
// stand-in simulates has its kinds.
func TestEmbeddedCRDsAreReal(t *testing.T) {
	crds, err := loadCRDs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		helmComponent:   {"helmcharts.helm.cattle.io", "helmchartconfigs.helm.cattle.io"},
		"metallb":       {"ipaddresspools.metallb.io", "l2advertisements.metallb.io"},
		"certManager":   {"clusterissuers.cert-manager.io", "certificates.cert-manager.io"},
		"sealedSecrets": {"sealedsecrets.bitnami.com"},
	}
	for component, names := range want {
		have := map[string]bool{}
		for _, crd := range crds[component] {
			have[crd.Name] = true
		}
		for _, name := range names {
			if !have[name] {
				t.Errorf("%s: no CRD %s among %d", component, name, len(crds[component]))
			}
		}
	}
	for _, crd := range crds[helmComponent] {
		if crd.Name != "helmcharts.helm.cattle.io" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			s := v.Schema.OpenAPIV3Schema
			if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields {
				t.Errorf("%s %s: permissive schema", crd.Name, v.Name)
			}
			if _, ok := s.Properties["spec"].Properties["chart"]; !ok {
				t.Errorf("%s %s: the schema has no spec.chart", crd.Name, v.Name)
			}
			break
		}
	}
}

// cert-manager's chart installs its CRDs only when its values ask for them.
func TestCertManagerCRDsOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec map[string]any
		want bool
	}{
		{"no values", map[string]any{}, false},
		{"crds.enabled", map[string]any{"valuesContent": "crds:\n  enabled: true\n  keep: true\n"}, true},
		{"crds.enabled false", map[string]any{"valuesContent": "crds:\n  enabled: false\n"}, false},
		{"installCRDs", map[string]any{"valuesContent": "installCRDs: true\n"}, true},
		{"set", map[string]any{"set": map[string]any{"crds.enabled": "true"}}, true},
	} {
		hc := &unstructured.Unstructured{Object: map[string]any{"spec": tc.spec}}
		if got := chartInstallsCRDs("certManager", hc); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if !chartInstallsCRDs("metallb", hc) {
			t.Errorf("%s: metallb's chart always brings its CRDs", tc.name)
		}
	}
}
