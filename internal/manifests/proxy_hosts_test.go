package manifests

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

// withProxyHosts is the homelab with two declared hosts: one in the cluster
// (TLS, websockets) and one outside it over plain http.
func withProxyHosts(t testing.TB) *config.Cluster {
	t.Helper()
	c := homelab(t)
	c.Proxy.Hosts = []config.ProxyHost{
		{Host: "photos.home", To: "immich-server", TLS: new(true), Websockets: new(true)},
		{Host: "printer.home", To: "http://10.0.0.20:8080", TLS: new(false), Websockets: new(false)},
	}
	return c
}

func find(t testing.TB, set Set, key string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range set {
		if o.Key() == key {
			return o.Object
		}
	}
	t.Fatalf("no object %s rendered", key)
	return nil
}

func npmTemplate(t testing.TB, set Set) corev1.PodTemplateSpec {
	t.Helper()
	u := find(t, set, "StatefulSet/network/nginx-proxy-manager")
	var d appsv1.StatefulSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Fatalf("npm replicas = %v, want 2", d.Spec.Replicas)
	}
	return d.Spec.Template
}

// Both replicas come from one pod template: it must mount the one ConfigMap
// and the certificate Secrets, and include them through /data.
func TestProxyHostsMountedInEveryReplica(t *testing.T) {
	c := withProxyHosts(t)
	set := render(t, c)
	tmpl := npmTemplate(t, set)
	vols := map[string]corev1.Volume{}
	for _, v := range tmpl.Spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range tmpl.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m
	}
	cm, ok := mounts[ProxyConfigDir]
	if !ok || !cm.ReadOnly || vols[cm.Name].ConfigMap == nil || vols[cm.Name].ConfigMap.Name != "nginx-proxy-manager-proxy-hosts" {
		t.Errorf("config mount %+v, volume %+v: want the ConfigMap read-only at %s", cm, vols[cm.Name], ProxyConfigDir)
	}
	tls, ok := mounts[ProxyTLSDir+"/photos.home"]
	if !ok || !tls.ReadOnly || vols[tls.Name].Secret == nil || vols[tls.Name].Secret.SecretName != "photos.home-tls" {
		t.Errorf("certificate mount %+v, volume %+v: want Secret photos.home-tls read-only", tls, vols[tls.Name])
	}
	if _, ok := mounts[ProxyTLSDir+"/printer.home"]; ok {
		t.Error("plain-http host printer.home has a certificate mount")
	}
	if len(tmpl.Spec.InitContainers) != 1 {
		t.Fatalf("init containers = %d, want the include writer", len(tmpl.Spec.InitContainers))
	}
	ic := tmpl.Spec.InitContainers[0]
	script := strings.Join(ic.Command, " ")
	if ic.Image != c.Workloads["nginx-proxy-manager"].Image || !strings.Contains(script, "> "+npmHTTPInclude) ||
		!strings.Contains(script, "include "+ProxyConfigDir+"/*.conf;") || ic.VolumeMounts[0].Name != mounts["/data"].Name {
		t.Errorf("init container %+v does not write the include into npm's /data volume", ic)
	}

	cert := find(t, set, "Certificate/network/photos.home")
	spec := cert.Object["spec"].(map[string]any)
	issuer := spec["issuerRef"].(map[string]any)
	if spec["secretName"] != "photos.home-tls" || issuer["name"] != ClusterIssuerName(c) || issuer["kind"] != "ClusterIssuer" {
		t.Errorf("Certificate spec = %v", spec)
	}
	for _, o := range set {
		if o.Object.GetKind() == "Certificate" && o.Object.GetName() == "printer.home" {
			t.Error("plain-http host printer.home has a Certificate")
		}
	}
	conf := find(t, set, "ConfigMap/network/nginx-proxy-manager-proxy-hosts").Object["data"].(map[string]any)[ProxyConfigKey]
	golden.Check(t, "proxy-hosts.conf", []byte(conf.(string)))
}

// A change of the hosts changes the pod template, so both replicas roll.
func TestProxyHostsChangeRollsReplicas(t *testing.T) {
	c := withProxyHosts(t)
	before := npmTemplate(t, render(t, c)).Annotations[ProxyHashAnnotation]
	c.Proxy.Hosts[1].To = "http://10.0.0.21:8080"
	after := npmTemplate(t, render(t, c)).Annotations[ProxyHashAnnotation]
	if before == "" || before == after {
		t.Errorf("hash annotation %q -> %q: want it set and changed", before, after)
	}
}

// Without declared hosts npm renders as before: no init container that would
// overwrite a hand-made http.conf.
func TestNoProxyHostsNoChange(t *testing.T) {
	tmpl := npmTemplate(t, render(t, homelab(t)))
	if len(tmpl.Spec.InitContainers) != 0 || tmpl.Annotations[ProxyHashAnnotation] != "" {
		t.Errorf("npm without proxy hosts has init containers %v, annotations %v", tmpl.Spec.InitContainers, tmpl.Annotations)
	}
}

func TestProxyConfigUpstreams(t *testing.T) {
	c := withProxyHosts(t)
	c.K3s.ClusterDomain = "lab.internal"
	c.Proxy.Hosts = append(c.Proxy.Hosts,
		config.ProxyHost{Host: "ha.home", To: "home-assistant", TLS: new(false), Websockets: new(true)},
		config.ProxyHost{Host: "nas.home", To: "https://nas.lan:5001", TLS: new(false), Websockets: new(false)})
	conf, err := ProxyConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"set $nodeagent_upstream http://immich-server.immich.svc.lab.internal:2283;",
		"set $nodeagent_upstream http://home-assistant.home-automation.svc.lab.internal:8123;",
		"set $nodeagent_upstream http://10.0.0.20:8080;",
		"set $nodeagent_upstream https://nas.lan:5001;\n        proxy_pass $nodeagent_upstream;\n",
		"proxy_ssl_server_name on;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if n := strings.Count(conf, "proxy_set_header Upgrade"); n != 2 {
		t.Errorf("%d hosts pass websockets, want 2 (photos, ha)", n)
	}
	if n := strings.Count(conf, "return 301 https://"); n != 1 {
		t.Errorf("%d http->https redirects, want 1 (photos)", n)
	}
}
