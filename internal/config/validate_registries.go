package config

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// validateRegistries checks k3s.registries: registry names as containerd
// matches them, endpoints as URLs it can pull from, and no credentials,
// which would end up in a file every node keeps (and in plan output).
func validateRegistries(p *problems, c *Cluster) {
	r := c.K3s.Registries
	for _, name := range SortedKeys(r.Mirrors) {
		field := "k3s.registries.mirrors." + name
		if name != "*" {
			if err := checkRegistryHost(name); err != "" {
				p.add(field, "%q %s", name, err)
			}
		}
		m := r.Mirrors[name]
		if len(m.Endpoint) == 0 {
			p.add(field+".endpoint", "lists no endpoint")
		}
		for i, e := range m.Endpoint {
			if err := checkEndpoint(e); err != "" {
				p.add(field+".endpoint["+strconv.Itoa(i)+"]", "%q %s", e, err)
			}
		}
		for _, re := range SortedKeys(m.Rewrite) {
			if _, err := regexp.Compile(re); err != nil {
				p.add(field+".rewrite."+re, "is not a regular expression: %v", err)
			}
		}
	}
	for _, host := range SortedKeys(r.Configs) {
		field := "k3s.registries.configs." + host
		if host != "*" {
			if err := checkRegistryHost(host); err != "" {
				p.add(field, "%q %s", host, err)
			}
		}
		tls := r.Configs[host].TLS
		for name, v := range map[string]string{"caFile": tls.CAFile, "certFile": tls.CertFile, "keyFile": tls.KeyFile} {
			if v != "" && !isCleanAbs(v) {
				p.add(field+".tls."+name, "%q must be a clean absolute path", v)
			}
		}
		if (tls.CertFile == "") != (tls.KeyFile == "") {
			p.add(field+".tls", "certFile and keyFile go together (a client certificate and its key)")
		}
	}
}

// checkRegistryHost accepts host[:port] as an image reference names its
// registry: a DNS name or IP address (an IPv6 one in brackets), with an
// optional port. It returns what is wrong, or "".
func checkRegistryHost(s string) string {
	host, port := s, ""
	if h, pt, err := net.SplitHostPort(s); err == nil {
		host, port = h, pt
	} else if strings.Contains(strings.Trim(s, "[]"), ":") && !strings.HasPrefix(s, "[") {
		return "is not host[:port] (an IPv6 address goes in brackets)"
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "has no valid port (1-65535)"
		}
	}
	if strings.HasPrefix(host, "[") {
		host = strings.Trim(host, "[]")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return "is not host[:port]: " + strings.Join(errs, "; ")
	}
	return ""
}

// checkEndpoint accepts an http(s) URL with a host and no user
// information (a password there would sit in registries.yaml), query or
// fragment. It returns what is wrong, or "".
func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "is not a URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an https:// or http:// URL"
	case u.User != nil:
		return "must not hold credentials"
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "must be scheme://host[:port][/path] only"
	case u.Host == "":
		return "has no host"
	}
	if err := checkRegistryHost(u.Host); err != "" {
		return "has a host that " + err
	}
	return ""
}
