package manifests

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func helmChartSpec(t *testing.T, set Set, name string) map[string]any {
	t.Helper()
	for _, o := range set {
		if o.Key() == "HelmChart/kube-system/"+name {
			return o.Object.Object["spec"].(map[string]any)
		}
	}
	t.Fatalf("no HelmChart %s", name)
	return nil
}

// TestChartContent: a component with a chartFile carries the bytes it was
// given, base64 as helm-controller decodes them, and no repo to fetch from;
// the others keep their repo.
func TestChartContent(t *testing.T) {
	c := homelab(t)
	c.Platform.MetalLB.ChartFile = "/srv/charts/metallb.tgz"
	tgz := []byte("\x1f\x8b not really a chart, Render does not look")
	set, err := RenderWith(c, Inputs{ChartContent: map[string][]byte{"metallb": tgz}})
	if err != nil {
		t.Fatal(err)
	}
	spec := helmChartSpec(t, set, "metallb")
	want := map[string]any{
		"chart": "metallb", "version": c.Platform.MetalLB.Version, "targetNamespace": "metallb-system",
		"createNamespace": true, "chartContent": base64.StdEncoding.EncodeToString(tgz),
	}
	if diff := cmp.Diff(want, spec); diff != "" {
		t.Errorf("metallb spec (-want +got):\n%s", diff)
	}
	if repo := helmChartSpec(t, set, "cert-manager")["repo"]; repo != c.Platform.CertManager.Repo {
		t.Errorf("cert-manager repo = %v, want %s", repo, c.Platform.CertManager.Repo)
	}
}

// TestChartContentMissing: Render never applies a HelmChart without the
// chart it names; an analysis may ask for one without it.
func TestChartContentMissing(t *testing.T) {
	c := homelab(t)
	c.Platform.SealedSecrets.ChartFile = "/srv/charts/sealed-secrets.tgz"
	if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "/srv/charts/sealed-secrets.tgz") {
		t.Errorf("Render without the content = %v, want an error naming the file", err)
	}
	set, err := RenderWith(c, Inputs{WithoutChartContent: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := helmChartSpec(t, set, "sealed-secrets")
	if _, ok := spec["chartContent"]; ok {
		t.Error("chartContent rendered without content")
	}
	if _, ok := spec["repo"]; ok {
		t.Error("repo rendered for a chartFile component")
	}
}
