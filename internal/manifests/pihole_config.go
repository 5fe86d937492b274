package manifests

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeagent/nodeagent/internal/config"
)

// ConfigHashAnnotation on a pod template holds the hash of the ConfigMap
// its pods read as environment: a changed ConfigMap changes the template,
// so every replica is replaced (environment is read only at start).
const ConfigHashAnnotation = "nodeagent.dev/config-hash"

// PiholePasswordSecret is the Secret (namespace network, key "password")
// every pihole replica reads its web/API password from.
const PiholePasswordSecret = "pihole"

// PiholeEnv is Pi-hole's configuration as FTLCONF_<section>_<key>
// variables (Pi-hole v6 reads every pihole.toml setting from them, lists
// ";"-separated, and shows them read-only in its web UI). It holds no
// secret: it goes into a ConfigMap.
func PiholeEnv(c *config.Cluster) map[string]string {
	d := c.DNS
	env := map[string]string{}
	for k, v := range d.Settings {
		env[ftlconfName(k)] = v
	}
	var hosts []string
	for _, r := range c.LocalRecords() {
		hosts = append(hosts, r.Address+" "+r.Name)
	}
	env[ftlconfName("dns.hosts")] = strings.Join(hosts, ";")
	env[ftlconfName("dns.upstreams")] = strings.Join(d.Upstreams, ";")
	// The domain's key moved from dns.domain (FTL up to v6.2, the pinned
	// image 2025.08.0) to dns.domain.name (v6.3); each version ignores the
	// other's variable with a warning, so both keep an image bump safe.
	env[ftlconfName("dns.domain")] = d.LocalDomain
	env[ftlconfName("dns.domain.name")] = d.LocalDomain
	// Pi-hole 6 answers only clients of its own subnets by default; behind
	// a Service every client comes from elsewhere.
	env[ftlconfName("dns.listeningMode")] = "all"
	return env
}

func ftlconfName(key string) string {
	return "FTLCONF_" + strings.ReplaceAll(key, ".", "_")
}

// piholeConfig renders the ConfigMap all replicas read and returns the
// container with it as envFrom and the password from its Secret, and the
// hash for the pod template.
func (r *renderer) piholeConfig(a app, c corev1.Container) (corev1.Container, string) {
	data := PiholeEnv(r.c)
	r.b.add(PhaseWorkloads, &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: a.meta(a.name),
		Data:       data,
	})
	c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: a.name},
	}})
	c.Env = append(c.Env, secretEnv("FTLCONF_webserver_api_password", PiholePasswordSecret, "password"))
	return c, dataHash(data)
}

// dataHash is a short hash of a ConfigMap's data, independent of map order.
func dataHash(data map[string]string) string {
	var b strings.Builder
	for _, k := range config.SortedKeys(data) {
		b.WriteString(k + "=" + data[k] + "\x00")
	}
	return shortHash(b.String())
}
