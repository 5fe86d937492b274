package main

import (
	"context"
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
)

// crdKind names one permissive CRD.
type crdKind struct {
	group, version, kind, plural string
	cluster                      bool
}

// helmCRDs are the CRDs k3s's embedded helm controller installs.
var helmCRDs = []crdKind{
	{group: "helm.cattle.io", version: "v1", kind: "HelmChart", plural: "helmcharts"},
	{group: "helm.cattle.io", version: "v1", kind: "HelmChartConfig", plural: "helmchartconfigs"},
}

// chartCRDs SIMULATE what installing a chart would bring: when a HelmChart
// for the chart exists, these kinds become served (with permissive schemas),
// so that the manifests nodeagent applies next are accepted. No chart is
// installed and nothing acts on these objects.
var chartCRDs = map[string][]crdKind{
	"metallb": {
		{group: "metallb.io", version: "v1beta1", kind: "IPAddressPool", plural: "ipaddresspools"},
		{group: "metallb.io", version: "v1beta1", kind: "L2Advertisement", plural: "l2advertisements"},
	},
	"cert-manager": {
		{group: "cert-manager.io", version: "v1", kind: "ClusterIssuer", plural: "clusterissuers", cluster: true},
		{group: "cert-manager.io", version: "v1", kind: "Issuer", plural: "issuers"},
		{group: "cert-manager.io", version: "v1", kind: "Certificate", plural: "certificates"},
	},
}

func (k crdKind) crd() *apiextv1.CustomResourceDefinition {
	preserve := true
	scope := apiextv1.NamespaceScoped
	if k.cluster {
		scope = apiextv1.ClusterScoped
	}
	return &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.plural + "." + k.group,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "k3s-standin"},
		},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: k.group,
			Scope: scope,
			Names: apiextv1.CustomResourceDefinitionNames{
				Kind: k.kind, ListKind: k.kind + "List",
				Plural: k.plural, Singular: strings.ToLower(k.kind),
			},
			Versions: []apiextv1.CustomResourceDefinitionVersion{{
				Name: k.version, Served: true, Storage: true,
				Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
				Subresources: &apiextv1.CustomResourceSubresources{Status: &apiextv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
}

// ensureCRDs creates the CRDs that do not exist (another server may have
// created them first) and waits until each is Established.
func ensureCRDs(ctx context.Context, cs apiextclient.Interface, kinds []crdKind) error {
	crds := cs.ApiextensionsV1().CustomResourceDefinitions()
	for _, k := range kinds {
		_, err := crds.Create(ctx, k.crd(), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s.%s: %w", k.plural, k.group, err)
		}
	}
	for _, k := range kinds {
		if err := waitEstablished(ctx, cs, k.plural+"."+k.group); err != nil {
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
func (s *server) simulateCharts(ctx context.Context, dyn dynamic.Interface, ext apiextclient.Interface, cs kubernetes.Interface) {
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
			for name, kinds := range chartCRDs {
				if !(strings.Contains(hc.GetName(), name) || strings.Contains(chart, name)) {
					continue
				}
				if !done[name] {
					if err := ensureCRDs(ctx, ext, kinds); err != nil {
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
