package manifests

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// kube is one real kube-apiserver shared by the tests of this package.
var kube apiserver.Shared

func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

// serverClient applies objects to a real apiserver through the dynamic
// client and a REST mapper built from discovery, as the apply engine does.
type serverClient struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func newServerClient(t *testing.T, cfg *rest.Config) *serverClient {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatalf("reading discovery: %v", err)
	}
	return &serverClient{dyn: dyn, mapper: restmapper.NewDiscoveryRESTMapper(groups)}
}

// apply server-side applies u, strictly; dryRun asks the apiserver to run admission
// and validation without storing anything.
func (s *serverClient) apply(ctx context.Context, u *unstructured.Unstructured, dryRun bool) error {
	gvk := u.GroupVersionKind()
	m, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = s.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = s.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	// Strict: a field the schema does not declare is an error here,
	// whatever the server's default for the engine's requests (which name
	// no fieldValidation) would do with it.
	force := true
	opts := metav1.PatchOptions{FieldManager: "nodeagent-test", Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	return err
}

// TestDryRunEveryObject sends every object of the homelab (as built in, and
// with proxy hosts declared) to a real kube-apiserver (v1.37) with the real
// chart CRDs installed (see installChartCRDs): namespaces for real,
// everything else as a server-side-apply dry run, which runs the API's full
// validation (and defaulting) of each kind.
func TestDryRunEveryObject(t *testing.T) {
	srv := kube.Get(t)
	installChartCRDs(t, srv)
	client := newServerClient(t, srv.RestConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	set := append(render(t, homelab(t)), render(t, withProxyHosts(t))...)
	for _, o := range set {
		// Objects of the later phases need their namespace to exist; a
		// dry-run namespace is not stored.
		dryRun := o.Object.GetKind() != "Namespace"
		if err := client.apply(ctx, o.Object, dryRun); err != nil {
			t.Errorf("%s (%s): %v", o.Key(), o.Phase, err)
		}
	}
}

// TestDryRunRejectsInvalid shows that the dry run above can fail: the same
// path rejects a Service the API considers invalid.
func TestDryRunRejectsInvalid(t *testing.T) {
	srv := kube.Get(t)
	client := newServerClient(t, srv.RestConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	set := render(t, homelab(t))
	var svc *unstructured.Unstructured
	for _, o := range set {
		if o.Object.GetKind() == "Service" && o.Object.GetName() == "pihole" {
			svc = o.Object.DeepCopy()
		}
	}
	if svc == nil {
		t.Fatal("no pihole Service rendered")
	}
	svc.SetNamespace("default")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	ports = append(ports, ports[0]) // duplicate port name and port/protocol
	if err := unstructured.SetNestedSlice(svc.Object, ports, "spec", "ports"); err != nil {
		t.Fatal(err)
	}
	if err := client.apply(ctx, svc, true); err == nil {
		t.Fatal("dry run accepted a Service with a duplicate port")
	}
}
