package manifests

import (
	"regexp"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/nodeagent/nodeagent/internal/config"
)

// byKey indexes a render by object key, each object as YAML.
func byKey(t *testing.T, set Set) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range set {
		data, err := yaml.Marshal(o.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key()] = string(data)
	}
	return out
}

// changed lists the keys added, removed or different between two renders.
func changed(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestLBAddressChangesOnlyItsObjects(t *testing.T) {
	tests := []struct {
		workload, address string
		want              []string
	}{
		{"nginx-proxy-manager", "10.0.0.110", []string{"Service/network/nginx-proxy-manager"}},
		{"pihole", "10.0.0.54", []string{"Service/network/pihole"}},
		{"immich-server", "10.0.0.111", []string{"Service/immich/immich-server"}},
		{"home-assistant", "10.0.0.112", []string{"Service/home-automation/home-assistant"}},
		{"filebrowser", "10.0.0.113", []string{"Service/files/filebrowser"}},
		{"beszel", "10.0.0.114", []string{"Service/monitoring/beszel"}},
		// Outside the pool, the pool gains the address as a /32.
		{"pihole", "10.0.0.5", []string{"IPAddressPool/metallb-system/homelab", "Service/network/pihole"}},
	}
	// Every address is also a local DNS record: pihole's ConfigMap and its
	// pod template (the ConfigMap's hash) change with it.
	dns := []string{"ConfigMap/network/pihole", "StatefulSet/network/pihole"}
	base := byKey(t, render(t, homelab(t)))
	for _, tc := range tests {
		t.Run(tc.workload+"="+tc.address, func(t *testing.T) {
			c := homelab(t)
			c.Network.LoadBalancer.Addresses[tc.workload] = tc.address
			got := byKey(t, render(t, c))
			want := append(append([]string(nil), dns...), tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, changed(base, got)); diff != "" {
				t.Errorf("changed objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPoolIncludesOutsideAddress(t *testing.T) {
	c := homelab(t)
	c.Network.LoadBalancer.Addresses["pihole"] = "10.0.0.5"
	if diff := cmp.Diff([]string{"10.0.0.50-10.0.0.119", "10.0.0.5/32"}, poolAddresses(c)); diff != "" {
		t.Errorf("pool (-want +got):\n%s", diff)
	}
}

func TestDisabledWorkloadRendersNothing(t *testing.T) {
	for _, name := range config.KnownWorkloads() {
		t.Run(name, func(t *testing.T) {
			if n := len(objectsOf(render(t, homelab(t)), name)); n == 0 {
				t.Fatalf("enabled %s renders no object", name)
			}
			c := homelab(t)
			w := c.Workloads[name]
			w.Enabled = new(bool)
			c.Workloads[name] = w
			if got := objectsOf(render(t, c), name); len(got) != 0 {
				t.Errorf("disabled %s still renders %v", name, got)
			}
		})
	}
}

func objectsOf(set Set, workload string) []string {
	var out []string
	for _, o := range set {
		if o.Object.GetLabels()[LabelName] == workload {
			out = append(out, o.Key())
		}
	}
	return out
}

func TestDisabledPlatformRendersNothing(t *testing.T) {
	off := new(bool)
	tests := []struct {
		name    string
		disable func(*config.Platform)
		gone    []string
	}{
		{"metallb", func(p *config.Platform) { p.MetalLB.Enabled = off },
			[]string{"HelmChart/kube-system/metallb", "IPAddressPool/metallb-system/homelab", "L2Advertisement/metallb-system/homelab", "Namespace//metallb-system"}},
		{"certManager", func(p *config.Platform) { p.CertManager.Enabled = off },
			[]string{"ClusterIssuer//homelab-ca", "HelmChart/kube-system/cert-manager", "Namespace//cert-manager"}},
		{"sealedSecrets", func(p *config.Platform) { p.SealedSecrets.Enabled = off },
			[]string{"HelmChart/kube-system/sealed-secrets"}},
	}
	base := byKey(t, render(t, homelab(t)))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := homelab(t)
			tc.disable(&c.Platform)
			if diff := cmp.Diff(tc.gone, changed(base, byKey(t, render(t, c)))); diff != "" {
				t.Errorf("objects gone (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEveryObjectIsLabelled(t *testing.T) {
	for _, o := range render(t, homelab(t)) {
		l := o.Object.GetLabels()
		if l[LabelManagedBy] != ManagedBy || l[LabelPartOf] != "homelab" {
			t.Errorf("%s labels %v lack managed-by=nodeagent and part-of=homelab", o.Key(), l)
		}
	}
}

// TestNoPlaintextCredentials fails when a variable that looks like a
// credential carries a literal value instead of a Secret reference.
func TestNoPlaintextCredentials(t *testing.T) {
	secretish := regexp.MustCompile(`(?i)pass|secret|token|key`)
	for _, o := range render(t, homelab(t)) {
		walkEnv(o.Object.Object, func(env map[string]any) {
			name, _ := env["name"].(string)
			if _, literal := env["value"]; literal && secretish.MatchString(name) {
				t.Errorf("%s: env %s has a literal value", o.Key(), name)
			}
		})
	}
}

func walkEnv(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		if envs, ok := t["env"].([]any); ok {
			for _, e := range envs {
				if m, ok := e.(map[string]any); ok {
					fn(m)
				}
			}
		}
		for _, c := range t {
			walkEnv(c, fn)
		}
	case []any:
		for _, c := range t {
			walkEnv(c, fn)
		}
	}
}

func TestSecretReferences(t *testing.T) {
	want := []string{"beszel-agent", "immich-postgres", "pihole", "restic-b2"}
	got := map[string]bool{}
	for _, o := range render(t, homelab(t)) {
		collectSecretNames(o.Object.Object, got)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("referenced Secrets (-want +got):\n%s", diff)
	}
}

func collectSecretNames(v any, into map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range []string{"secretRef", "secretKeyRef"} {
			if m, ok := t[k].(map[string]any); ok {
				into[m["name"].(string)] = true
			}
		}
		for _, c := range t {
			collectSecretNames(c, into)
		}
	case []any:
		for _, c := range t {
			collectSecretNames(c, into)
		}
	}
}

func TestClusterIssuer(t *testing.T) {
	tests := []struct {
		name   string
		issuer config.Issuer
		want   map[string]any
	}{
		{"ca", config.Issuer{Type: config.IssuerCA, CASecretName: "my-ca"}, map[string]any{"ca": map[string]any{"secretName": "my-ca"}}},
		{"letsencrypt", config.Issuer{Type: config.IssuerLetsEncrypt, Email: "me@example.org"}, map[string]any{"acme": map[string]any{
			"email":               "me@example.org",
			"server":              letsEncryptServer,
			"privateKeySecretRef": map[string]any{"name": "letsencrypt-account-key"},
			"solvers":             []any{map[string]any{"http01": map[string]any{"ingress": map[string]any{}}}},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := homelab(t)
			c.Platform.CertManager.Issuer = tc.issuer
			objs := render(t, c).Phase(PhaseChartResources)
			var got map[string]any
			for _, u := range objs {
				if u.GetKind() == "ClusterIssuer" {
					got, _, _ = unstructured.NestedMap(u.Object, "spec")
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ClusterIssuer spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionDependentKeys(t *testing.T) {
	tests := []struct {
		version string
		min     []int
		want    bool
	}{
		{"v1.18.2", []int{1, 15}, true},
		{"v1.14.5", []int{1, 15}, false},
		{"0.15.2", []int{0, 14, 9}, true},
		{"0.14.9", []int{0, 14, 9}, true},
		{"0.14.8", []int{0, 14, 9}, false},
		{"v0.13.12", []int{0, 14, 9}, false},
		{"v1.15.0-rc.1", []int{1, 15}, true},
		{"latest", []int{1, 15}, true},
	}
	for _, tc := range tests {
		if got := versionAtLeast(tc.version, tc.min...); got != tc.want {
			t.Errorf("versionAtLeast(%q, %v) = %v, want %v", tc.version, tc.min, got, tc.want)
		}
	}
	c := homelab(t)
	c.Platform.MetalLB.Version = "0.13.12"
	if got := loadBalancerIPsAnnotation(c); got != "metallb.universe.tf/loadBalancerIPs" {
		t.Errorf("MetalLB 0.13 annotation = %s", got)
	}
	if diff := cmp.Diff(map[string]any{"installCRDs": true}, certManagerValues("v1.14.4")); diff != "" {
		t.Errorf("cert-manager 1.14 values (-want +got):\n%s", diff)
	}
}

func TestMemoryLimit(t *testing.T) {
	for req, want := range map[string]string{"200Mi": "300Mi", "1Gi": "1536Mi", "2Gi": "3Gi", "100M": "144Mi"} {
		got := MemoryLimit(resource.MustParse(req))
		if got.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("MemoryLimit(%s) = %s, want %s", req, got.String(), want)
		}
	}
}

func TestUserValuesMergeIntoDefaults(t *testing.T) {
	got := mergeValues(map[string]any{"crds": map[string]any{"enabled": true, "keep": true}},
		map[string]any{"crds": map[string]any{"keep": false}, "replicaCount": 2})
	want := map[string]any{"crds": map[string]any{"enabled": true, "keep": false}, "replicaCount": 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged values (-want +got):\n%s", diff)
	}
}
