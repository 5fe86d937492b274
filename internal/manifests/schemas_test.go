package manifests

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
	"github.com/nodeagent/nodeagent/test/harness/chartcrds"
)

// installChartCRDs installs the CRDs of k3s's helm-controller, MetalLB,
// cert-manager and sealed-secrets at the versions default.yaml pins (see
// chartcrds.Sources) and returns the kinds they define. Every test of this
// package installs these same CRDs, so the shared apiserver never holds a
// looser schema of the same name.
func installChartCRDs(t *testing.T, srv *apiserver.Server) map[schema.GroupKind]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crds, err := chartcrds.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.InstallCRDs(t, crds...)
	kinds := map[schema.GroupKind]bool{}
	for _, data := range crds {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		kinds[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	return kinds
}

// otherLAN is the built-in homelab moved to another LAN, interface and pool
// form (two CIDRs instead of a range), through the cluster file so it passes
// the same validation as a user's.
func otherLAN(t *testing.T) *config.Cluster {
	t.Helper()
	data := strings.ReplaceAll(string(config.DefaultYAML()), "10.0.0.", "192.168.7.")
	for old, repl := range map[string]string{
		"pool: [192.168.7.50-192.168.7.119]": "pool: [192.168.7.48/28, 192.168.7.96/28]",
		"interface: eth0":                    "interface: enp1s0",
	} {
		if !strings.Contains(data, old) {
			t.Fatalf("default.yaml no longer holds %q", old)
		}
		data = strings.Replace(data, old, repl, 1)
	}
	f, err := config.Parse("other-lan.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return &f.Cluster
}

// TestDryRunRealSchemas dry-runs every custom resource Render produces
// against the real CRDs of the pinned versions, for the variants of the
// cluster file that change them.
func TestDryRunRealSchemas(t *testing.T) {
	srv := kube.Get(t)
	crdKinds := installChartCRDs(t, srv)
	client := newServerClient(t, srv.RestConfig())

	letsEncrypt := homelab(t)
	letsEncrypt.Platform.CertManager.Issuer = config.Issuer{Type: config.IssuerLetsEncrypt, Email: "me@example.org"}
	staging := homelab(t)
	staging.Platform.CertManager.Issuer = config.Issuer{Type: config.IssuerLetsEncrypt, Email: "me@example.org",
		Server: "https://acme-staging-v02.api.letsencrypt.org/directory"}
	noInterface := homelab(t)
	noInterface.Network.Interface = ""

	for _, tc := range []struct {
		name string
		c    *config.Cluster
	}{
		{"homelab", homelab(t)},
		{"letsencrypt", letsEncrypt},
		{"letsencrypt-staging", staging},
		{"other-lan", otherLAN(t)},
		{"no-interface", noInterface},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			seen := map[schema.GroupKind]int{}
			for _, o := range render(t, tc.c) {
				u := o.Object
				gk := u.GroupVersionKind().GroupKind()
				if u.GetKind() == "Namespace" {
					// Stored, so the namespaced objects' dry runs find it.
					if err := client.apply(ctx, u, false); err != nil {
						t.Fatalf("%s: %v", o.Key(), err)
					}
					continue
				}
				if !crdKinds[gk] {
					continue
				}
				seen[gk]++
				if err := client.apply(ctx, u, true); err != nil {
					t.Errorf("%s (%s): %v", o.Key(), o.Phase, err)
				}
			}
			// The platform's kinds must all have been checked, so the test
			// cannot pass by rendering none of them.
			for _, want := range []schema.GroupKind{
				{Group: "helm.cattle.io", Kind: "HelmChart"},
				{Group: "metallb.io", Kind: "IPAddressPool"},
				{Group: "metallb.io", Kind: "L2Advertisement"},
				{Group: "cert-manager.io", Kind: "ClusterIssuer"},
			} {
				if seen[want] == 0 {
					t.Errorf("no %s rendered", want)
				}
			}
			t.Logf("dry-ran %v", seen)
		})
	}
}

// TestDryRunRealSchemasReject shows the CRDs are the real ones: each object
// here breaks the upstream schema in a way a permissive CRD (an open spec,
// as the k3s stand-in once served) accepts, and the apiserver must refuse it.
func TestDryRunRealSchemasReject(t *testing.T) {
	srv := kube.Get(t)
	installChartCRDs(t, srv)
	client := newServerClient(t, srv.RestConfig())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	set := render(t, homelab(t))
	find := func(kind, name string) *unstructured.Unstructured {
		t.Helper()
		for _, o := range set {
			if o.Object.GetKind() == kind && (name == "" || o.Object.GetName() == name) {
				return o.Object.DeepCopy()
			}
		}
		t.Fatalf("no %s %s rendered", kind, name)
		return nil
	}
	// The namespaces the objects live in, stored for real.
	for _, o := range set {
		if o.Object.GetKind() == "Namespace" {
			if err := client.apply(ctx, o.Object, false); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, tc := range []struct {
		name   string
		obj    *unstructured.Unstructured
		mutate func(u *unstructured.Unstructured) error
	}{
		{"pool addresses not a list", find("IPAddressPool", ""), func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "10.0.0.50-10.0.0.119", "spec", "addresses")
		}},
		{"l2 unknown field", find("L2Advertisement", ""), func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, []any{"eth0"}, "spec", "interface")
		}},
		{"issuer unknown field", find("ClusterIssuer", ""), func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "ca-key-pair", "spec", "ca", "secret")
		}},
		// Not here: an issuer with no type, or a pool address that is no
		// CIDR or range. cert-manager's and MetalLB's webhooks refuse
		// those, not their schemas, and no webhook runs in these tests.
		{"helmchart misspelt field", find("HelmChart", "metallb"), func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "x: 1\n", "spec", "valuesContents")
		}},
		{"helmchart wrong type", find("HelmChart", "metallb"), func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "yes", "spec", "createNamespace")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := client.apply(ctx, tc.obj, true); err != nil {
				t.Fatalf("the unchanged %s is refused: %v", tc.obj.GetKind(), err)
			}
			if err := tc.mutate(tc.obj); err != nil {
				t.Fatal(err)
			}
			err := client.apply(ctx, tc.obj, true)
			if err == nil {
				t.Fatalf("dry run accepted %s %s: %v", tc.obj.GetKind(), tc.obj.GetName(), tc.obj.Object["spec"])
			}
			t.Logf("refused: %v", err)
		})
	}
}
