package apiserver_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

func TestInstallCRDsThenCreateResource(t *testing.T) {
	srv := kube.Get(t)
	ctx := testContext(t)
	manifest, err := os.ReadFile("testdata/helmchart-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}

	names := srv.InstallCRDs(t, manifest)
	if diff := cmp.Diff([]string{"helmcharts.helm.cattle.io"}, names); diff != "" {
		t.Errorf("installed CRDs (-want +got):\n%s", diff)
	}
	// Installing again is a no-op apply, not an AlreadyExists error.
	srv.InstallCRDs(t, manifest)

	ns := srv.CreateNamespace(t)
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}
	chart := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.cattle.io/v1",
		"kind":       "HelmChart",
		"metadata":   map[string]any{"name": "metallb", "namespace": ns},
		"spec":       map[string]any{"chart": "metallb", "repo": "https://metallb.github.io/metallb"},
	}}
	if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, chart, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating HelmChart: %v", err)
	}
	got, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, "metallb", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading HelmChart back: %v", err)
	}
	if diff := cmp.Diff(chart.Object["spec"], got.Object["spec"]); diff != "" {
		t.Errorf("HelmChart spec (-want +got):\n%s", diff)
	}
}

// No server needed: the manifest is checked before anything is sent.
func TestInstallCRDsRejectsOtherKinds(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	manifest := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-a-crd\n")
	_, err := apiserver.InstallCRDs(context.Background(), cfg, manifest)
	if err == nil || !strings.Contains(err.Error(), "is not a CustomResourceDefinition") {
		t.Errorf("InstallCRDs(ConfigMap) error = %v, want one naming the wrong kind", err)
	}
}
