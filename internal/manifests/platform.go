package manifests

import (
	"encoding/base64"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/nodeagent/nodeagent/internal/config"
)

// helmChartNamespace is where k3s's helm controller watches HelmCharts.
const helmChartNamespace = "kube-system"

// letsEncryptServer is ACME's production directory, the default server.
const letsEncryptServer = "https://acme-v02.api.letsencrypt.org/directory"

// ClusterIssuerName is the name of the rendered cert-manager ClusterIssuer,
// for Certificates and the cert-manager.io/cluster-issuer annotation.
func ClusterIssuerName(c *config.Cluster) string {
	if c.Platform.CertManager.Issuer.Type == config.IssuerLetsEncrypt {
		return "letsencrypt"
	}
	return c.Metadata.Name + "-ca"
}

func (r *renderer) platform(used map[string]bool) {
	p := r.c.Platform
	charts := []struct {
		h        config.HelmComponent
		defaults map[string]any
	}{
		{p.MetalLB, nil},
		{p.CertManager.HelmComponent, certManagerValues(p.CertManager.Version)},
		// kubeseal looks for a controller named sealed-secrets-controller in
		// kube-system unless told otherwise; keep that name.
		{p.SealedSecrets, map[string]any{"fullnameOverride": "sealed-secrets-controller"}},
	}
	for _, ch := range charts {
		if ch.h.IsEnabled() {
			used[ch.h.Namespace] = true
			r.helmChart(ch.h, ch.defaults)
		}
	}
	if p.MetalLB.IsEnabled() {
		r.metalLB()
	}
	if p.CertManager.IsEnabled() {
		r.clusterIssuer()
	}
}

// certManagerValues installs the CRDs with the chart: charts from v1.15 call
// the value crds.enabled (and crds.keep keeps them on uninstall, so
// certificates survive a chart removal); older ones installCRDs.
func certManagerValues(version string) map[string]any {
	if versionAtLeast(version, 1, 15) {
		return map[string]any{"crds": map[string]any{"enabled": true, "keep": true}}
	}
	return map[string]any{"installCRDs": true}
}

func (r *renderer) helmChart(h config.HelmComponent, defaults map[string]any) {
	spec := map[string]any{
		"chart":           h.Chart,
		"version":         h.Version,
		"targetNamespace": h.Namespace,
		"createNamespace": true,
	}
	switch content, ok := r.in.ChartContent[h.Chart]; {
	case h.ChartFile == "":
		spec["repo"] = h.Repo
	case ok:
		// helm-controller installs the chart it carries and fetches
		// nothing: repo stays out, chart and version say what it is.
		spec["chartContent"] = base64.StdEncoding.EncodeToString(content)
	case !r.in.WithoutChartContent:
		r.fail("chart %s: the content of its chartFile %s was not read", h.Chart, h.ChartFile)
		return
	}
	values := mergeValues(defaults, h.Values)
	if len(values) > 0 {
		data, err := yaml.Marshal(values)
		if err != nil {
			r.fail("encoding values of chart %s: %w", h.Chart, err)
			return
		}
		spec["valuesContent"] = string(data)
	}
	r.b.addUnstructured(PhaseCharts, newObject("helm.cattle.io/v1", "HelmChart", helmChartNamespace, h.Chart, spec))
}

// mergeValues returns defaults overlaid with user values, recursively for
// nested maps, so a user can set one key of a map the defaults also set.
func mergeValues(defaults, user map[string]any) map[string]any {
	out := maps.Clone(defaults)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range user {
		um, uok := v.(map[string]any)
		dm, dok := out[k].(map[string]any)
		if uok && dok {
			out[k] = mergeValues(dm, um)
			continue
		}
		out[k] = v
	}
	return out
}

func (r *renderer) metalLB() {
	ns := r.c.Platform.MetalLB.Namespace
	name := r.c.Metadata.Name
	r.b.addUnstructured(PhaseChartResources, newObject("metallb.io/v1beta1", "IPAddressPool", ns, name, map[string]any{
		"addresses": toAnySlice(poolAddresses(r.c)),
	}))
	l2 := map[string]any{"ipAddressPools": []any{name}}
	// Answer ARP only on the LAN interface, not on flannel or tailscale.
	if iface := r.c.Network.Interface; iface != "" {
		l2["interfaces"] = []any{iface}
	}
	r.b.addUnstructured(PhaseChartResources, newObject("metallb.io/v1beta1", "L2Advertisement", ns, name, l2))
}

// poolAddresses is the configured pool plus, as /32, every service address
// the pool does not already cover: MetalLB only hands out addresses of a pool,
// and pihole's 10.0.0.53 sits outside a typical "upper range" pool.
func poolAddresses(c *config.Cluster) []string {
	out := append([]string(nil), c.Network.LoadBalancer.Pool...)
	for _, s := range c.ExposedServices() {
		addr, err := netip.ParseAddr(s.Address)
		if err != nil || poolContains(c.Network.LoadBalancer.Pool, addr) {
			continue
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()).String())
	}
	return out
}

func poolContains(pool []string, addr netip.Addr) bool {
	for _, entry := range pool {
		if p, err := netip.ParsePrefix(entry); err == nil && p.Contains(addr) {
			return true
		}
		lo, hi, ok := strings.Cut(entry, "-")
		if !ok {
			continue
		}
		first, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		last, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 == nil && err2 == nil && first.Compare(addr) <= 0 && addr.Compare(last) <= 0 {
			return true
		}
	}
	return false
}

func (r *renderer) clusterIssuer() {
	is := r.c.Platform.CertManager.Issuer
	var spec map[string]any
	switch is.Type {
	case config.IssuerLetsEncrypt:
		server := is.Server
		if server == "" {
			server = letsEncryptServer
		}
		spec = map[string]any{"acme": map[string]any{
			"email":               is.Email,
			"server":              server,
			"privateKeySecretRef": map[string]any{"name": ClusterIssuerName(r.c) + "-account-key"},
			"solvers":             []any{map[string]any{"http01": map[string]any{"ingress": map[string]any{}}}},
		}}
	default:
		// The Secret lives in cert-manager's cluster resource namespace,
		// which is the chart's namespace unless the chart values change it.
		spec = map[string]any{"ca": map[string]any{"secretName": is.CASecretName}}
	}
	r.b.addUnstructured(PhaseChartResources, newObject("cert-manager.io/v1", "ClusterIssuer", "", ClusterIssuerName(r.c), spec))
}

// loadBalancerIPsAnnotation is MetalLB's annotation for a fixed address: the
// metallb.universe.tf prefix is deprecated since 0.14.9 in favour of
// metallb.io, which older releases do not read.
func loadBalancerIPsAnnotation(c *config.Cluster) string {
	m := c.Platform.MetalLB
	if m.IsEnabled() && !versionAtLeast(m.Version, 0, 14, 9) {
		return "metallb.universe.tf/loadBalancerIPs"
	}
	return "metallb.io/loadBalancerIPs"
}

// versionAtLeast compares a "v1.2.3" or "1.2.3" version with min. A version
// it cannot read counts as new: pinned versions are normally current ones.
func versionAtLeast(version string, min ...int) bool {
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	for i, want := range min {
		if i >= len(parts) {
			return want == 0
		}
		digits := strings.FieldsFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })
		if len(digits) == 0 {
			return true
		}
		got, err := strconv.Atoi(digits[0])
		if err != nil {
			return true
		}
		if got != want {
			return got > want
		}
	}
	return true
}

func newObject(apiVersion, kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
		"spec":       spec,
	}}
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

func toAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
