package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// The CRDs are the real ones, at the versions nodeagent's default.yaml
// pins: build-k3s-standin.sh writes them into crds/ (test/tools/chart-crds
// reads them from the projects' Go modules) before it builds, and they are
// embedded. Objects the real schemas refuse are refused here too.
//
//go:embed crds
var crdFiles embed.FS

// helmComponent holds the CRDs k3s installs itself (its embedded helm
// controller's HelmChart and HelmChartConfig, pkg/crd/crds.go).
const helmComponent = "k3s"

// chartComponents SIMULATE what installing a chart brings: when a HelmChart
// for the chart exists, the chart's real CRDs become served, so that the
// manifests nodeagent applies next are validated as on k3s. No chart is
// installed and nothing acts on these objects. The key is matched against
// the HelmChart's name and spec.chart.
var chartComponents = map[string]string{
	"metallb":        "metallb",
	"cert-manager":   "certManager",
	"sealed-secrets": "sealedSecrets",
}

// loadCRDs reads the embedded CRDs of every component; a stand-in built
// without them (not through build-k3s-standin.sh) refuses to start rather
// than serve permissive kinds.
func loadCRDs() (map[string][]*apiextv1.CustomResourceDefinition, error) {
	out := map[string][]*apiextv1.CustomResourceDefinition{}
	components := []string{helmComponent}
	for _, c := range chartComponents {
		components = append(components, c)
	}
	for _, c := range components {
		data, err := crdFiles.ReadFile("crds/" + c + ".json")
		if err != nil {
			return nil, fmt.Errorf("the stand-in was built without the real CRDs (%w): build it with test/tools/build-k3s-standin.sh", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		for dec.More() {
			crd := &apiextv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); err != nil {
				return nil, fmt.Errorf("crds/%s.json: %w", c, err)
			}
			out[c] = append(out[c], crd)
		}
		if len(out[c]) == 0 {
			return nil, fmt.Errorf("crds/%s.json holds no CRD", c)
		}
	}
	return out, nil
}

// ensureCRDs creates the CRDs that do not exist (another server may have
// created them first) and waits until each is Established.
func ensureCRDs(ctx context.Context, cs apiextclient.Interface, want []*apiextv1.CustomResourceDefinition) error {
	crds := cs.ApiextensionsV1().CustomResourceDefinitions()
	for _, crd := range want {
		_, err := crds.Create(ctx, crd.DeepCopy(), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range want {
		if err := waitEstablished(ctx, cs, crd.Name); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, cs apiextclient.Interface, name string) error {
	for {
		crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for CRD %s: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// simulateCharts polls the HelmCharts every 2s, installs the CRDs of the
// simulated charts they name and keeps each chart's install Job as
// helm-controller would (helmjob.go), until ctx ends.
func (s *server) simulateCharts(ctx context.Context, dyn dynamic.Interface, ext apiextclient.Interface, cs kubernetes.Interface,
	crds map[string][]*apiextv1.CustomResourceDefinition) {
	log := s.log.With(zap.String("component", "helm-simulation"))
	done := map[string]bool{}
	for {
		list, err := dyn.Resource(helmChartGVR).List(ctx, metav1.ListOptions{})
		if err != nil && ctx.Err() == nil {
			log.Warn("listing HelmCharts", zap.Error(err))
		}
		var items []unstructured.Unstructured
		if list != nil {
			items = list.Items
		}
		for i := range items {
			hc := &items[i]
			installed := false
			chart, _, _ := unstructured.NestedString(hc.Object, "spec", "chart")
			for name, component := range chartComponents {
				if !(strings.Contains(hc.GetName(), name) || strings.Contains(chart, name)) {
					continue
				}
				if !done[name] && chartInstallsCRDs(component, hc) {
					if err := ensureCRDs(ctx, ext, crds[component]); err != nil {
						log.Warn("installing simulated chart CRDs", zap.String("chart", name), zap.Error(err))
						continue
					}
					log.Info("installed simulated chart CRDs", zap.String("chart", name))
					done[name] = true
				}
				installed = true
			}
			if err := syncInstallJob(ctx, cs, dyn, hc, installed); err != nil && ctx.Err() == nil {
				log.Warn("imitating the helm install job", zap.String("chart", hc.GetName()), zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// chartInstallsCRDs is false for cert-manager's chart unless its values ask
// for the CRDs (crds.enabled from v1.15, installCRDs before): by default
// helm installs cert-manager without them. The other charts always bring
// theirs (crds/ directories or a CRD subchart enabled by default).
func chartInstallsCRDs(component string, hc *unstructured.Unstructured) bool {
	if component != "certManager" {
		return true
	}
	content, _, _ := unstructured.NestedString(hc.Object, "spec", "valuesContent")
	var values struct {
		CRDs struct {
			Enabled bool `json:"enabled"`
		} `json:"crds"`
		InstallCRDs bool `json:"installCRDs"`
	}
	if err := yaml.Unmarshal([]byte(content), &values); err != nil {
		return false
	}
	set, _, _ := unstructured.NestedMap(hc.Object, "spec", "set")
	isTrue := func(key string) bool { return fmt.Sprint(set[key]) == "true" }
	return values.CRDs.Enabled || values.InstallCRDs || isTrue("crds.enabled") || isTrue("installCRDs")
}
