package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Where the declared proxy hosts reach nginx-proxy-manager's nginx. Both lie
// outside what the image's start scripts rewrite and chown (/data/nginx,
// /etc/nginx/conf.d, /etc/letsencrypt): a read-only mount there stops the
// container (set -e).
const (
	ProxyConfigDir = "/etc/nginx/nodeagent"
	ProxyTLSDir    = "/etc/nginx/nodeagent-tls"
	// ProxyConfigKey is the file of the ConfigMap.
	ProxyConfigKey = "proxy-hosts.conf"
	// ProxyHashAnnotation on the pod template holds a hash of the rendered
	// configuration, so any change of the hosts rolls every replica.
	ProxyHashAnnotation = "nodeagent.dev/proxy-hosts-hash"
	// npmHTTPInclude is the file npm's nginx.conf includes at the end of its
	// http block (`include /data/nginx/custom/http[.]conf`). It must live in
	// the /data volume, so an init container writes the one include line.
	npmHTTPInclude = "/data/nginx/custom/http.conf"
	// proxyIncludeLine is what the init container writes there.
	proxyIncludeLine = "include " + ProxyConfigDir + "/*.conf;"
)

// ProxyConfigMapName is the ConfigMap with the rendered server blocks.
func ProxyConfigMapName(a string) string { return a + "-proxy-hosts" }

// ProxyCertSecret is the Secret cert-manager keeps host's certificate in.
func ProxyCertSecret(host string) string { return host + "-tls" }

// proxyHosts adds the declared proxy hosts to npm's pod template: the
// ConfigMap every replica mounts, an init container that makes npm's nginx
// include it, and one cert-manager Certificate per TLS host whose Secret
// every replica mounts. Nothing changes when no host is declared.
func (r *renderer) proxyHosts(a app, tmpl *corev1.PodTemplateSpec) {
	hosts := r.c.Proxy.Hosts
	if len(hosts) == 0 {
		return
	}
	conf, err := ProxyConfig(r.c)
	if err != nil {
		r.fail("workload %s: %w", a.name, err)
		return
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: a.meta(ProxyConfigMapName(a.name)),
		Data:       map[string]string{ProxyConfigKey: conf},
	}
	r.b.add(PhaseWorkloads, cm)

	spec := &tmpl.Spec
	main := &spec.Containers[0]
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "proxy-hosts", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}},
	}})
	main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: "proxy-hosts", MountPath: ProxyConfigDir, ReadOnly: true})
	for _, h := range hosts {
		if !h.HasTLS() {
			continue
		}
		r.proxyCertificate(a, h.Host)
		vol := "tls-" + shortHash(h.Host)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: ProxyCertSecret(h.Host), DefaultMode: ptr.To[int32](0o400)},
		}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: path.Join(ProxyTLSDir, h.Host), ReadOnly: true})
	}
	data := dataVolume(*main)
	if data == "" {
		r.fail("workload %s: no volume mounted at /data for the include of the proxy hosts", a.name)
		return
	}
	// The image's own shell writes the include, so no second image is pulled;
	// the glob still matches nothing if the hosts are removed later and a
	// persistent /data keeps the file.
	script := fmt.Sprintf("mkdir -p %s && printf '%%s\\n' '# Written by nodeagent at each start: the proxy hosts of the cluster file.' '%s' > %s",
		path.Dir(npmHTTPInclude), proxyIncludeLine, npmHTTPInclude)
	spec.InitContainers = append(spec.InitContainers, corev1.Container{
		Name:            "proxy-hosts-include",
		Image:           main.Image,
		Command:         []string{"/bin/sh", "-c", script},
		VolumeMounts:    []corev1.VolumeMount{{Name: data, MountPath: "/data"}},
		SecurityContext: main.SecurityContext,
	})
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[ProxyHashAnnotation] = shortHash(conf)
}

// dataVolume is the volume the container mounts at /data.
func dataVolume(c corev1.Container) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/data" {
			return m.Name
		}
	}
	return ""
}

func (r *renderer) proxyCertificate(a app, host string) {
	r.b.addUnstructured(PhaseChartResources, newObject("cert-manager.io/v1", "Certificate", a.ns, host, map[string]any{
		"secretName": ProxyCertSecret(host),
		"dnsNames":   []any{host},
		"issuerRef":  map[string]any{"name": ClusterIssuerName(r.c), "kind": "ClusterIssuer", "group": "cert-manager.io"},
	}))
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// ProxyConfig renders the declared proxy hosts as nginx server blocks for
// the http block of npm's nginx.conf.
func ProxyConfig(c *config.Cluster) (string, error) {
	var b strings.Builder
	b.WriteString(proxyPreamble)
	for i, h := range c.Proxy.Hosts {
		upstream, err := upstreamURL(c, h)
		if err != nil {
			return "", fmt.Errorf("proxy.hosts[%d]: %w", i, err)
		}
		fmt.Fprintf(&b, "\n# %s -> %s\n", h.Host, h.To)
		if h.HasTLS() {
			fmt.Fprintf(&b, "server {\n    listen 80;\n    server_name %s;\n    return 301 https://$host$request_uri;\n}\n\n", h.Host)
			fmt.Fprintf(&b, "server {\n    listen 443 ssl;\n    server_name %s;\n", h.Host)
			fmt.Fprintf(&b, "    ssl_certificate $nodeagent_tls/%[1]s/tls.crt;\n    ssl_certificate_key $nodeagent_tls/%[1]s/tls.key;\n", h.Host)
			b.WriteString("    ssl_protocols TLSv1.2 TLSv1.3;\n")
		} else {
			fmt.Fprintf(&b, "server {\n    listen 80;\n    server_name %s;\n", h.Host)
		}
		b.WriteString("\n    location / {\n")
		fmt.Fprintf(&b, "        set $nodeagent_upstream %s;\n        proxy_pass $nodeagent_upstream;\n", upstream)
		b.WriteString(proxyHeaders)
		if strings.HasPrefix(upstream, "https:") {
			b.WriteString("        proxy_ssl_server_name on;\n")
		}
		if h.HasWebsockets() {
			b.WriteString("        proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection $nodeagent_connection;\n")
		}
		b.WriteString("    }\n}\n")
	}
	return b.String(), nil
}

// upstreamURL is the target as nginx reaches it: a workload by its
// Service's cluster DNS name, resolved per request through npm's resolver
// (the variable in proxy_pass), so a Service created after npm started, or
// recreated with a new address, is still found.
func upstreamURL(c *config.Cluster, h config.ProxyHost) (string, error) {
	t, err := c.Target(h)
	if err != nil {
		return "", err
	}
	if t.Workload == "" {
		return t.Scheme + "://" + t.HostPort(), nil
	}
	return fmt.Sprintf("http://%s.%s.svc.%s:%d", t.Workload, namespaces[t.Workload], c.K3s.ClusterDomain, t.Port), nil
}

const proxyPreamble = `# Rendered by nodeagent from the cluster file (proxy.hosts): every replica of
# nginx-proxy-manager loads this same file. Edit the cluster file, not this.

# Websocket upgrades pass through; other requests close the upstream
# connection as nginx does by default.
map $http_upgrade $nodeagent_connection {
    default upgrade;
    ''      close;
}

# A variable in ssl_certificate makes nginx read the files at each handshake,
# so a certificate cert-manager renews is served without a reload.
map $server_port $nodeagent_tls {
    default ` + ProxyTLSDir + `;
}
`

// proxyHeaders are set in full: a proxy_set_header in a location drops the
// ones npm's http block sets.
const proxyHeaders = `        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Scheme $scheme;
`
