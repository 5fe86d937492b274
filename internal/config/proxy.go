package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ProxyWorkload is the workload that serves the declared proxy hosts.
const ProxyWorkload = "nginx-proxy-manager"

// Proxy declares nginx-proxy-manager's proxy hosts. They are rendered into
// one nginx configuration that every replica loads, so they survive the loss
// of a replica; hosts made in npm's UI live in one replica's database only.
type Proxy struct {
	Hosts []ProxyHost `yaml:"hosts" json:"hosts,omitempty"`
}

// ProxyHost is one virtual host of the proxy.
type ProxyHost struct {
	// Host is the name clients ask for, such as photos.home.
	Host string `yaml:"host" json:"host"`
	// To is a workload name (its in-cluster Service) or an http(s)://host:port
	// URL of something outside the cluster.
	To string `yaml:"to" json:"to"`
	// TLS serves the host on 443 with a cert-manager certificate and
	// redirects http to https; default true while cert-manager is enabled.
	TLS *bool `yaml:"tls" json:"tls,omitempty"`
	// Websockets passes Upgrade requests through (default true).
	Websockets *bool `yaml:"websockets" json:"websockets,omitempty"`
}

// HasTLS reports whether the host is served over https.
func (h ProxyHost) HasTLS() bool { return h.TLS != nil && *h.TLS }

// HasWebsockets reports whether Upgrade requests are passed through.
func (h ProxyHost) HasWebsockets() bool { return h.Websockets == nil || *h.Websockets }

// ProxyTarget is where a proxy host forwards to: a workload's Service port, or
// an outside address.
type ProxyTarget struct {
	// Workload is set for an in-cluster target; Port is its service port.
	Workload string
	Port     int
	// Scheme, Host and Port describe an outside target (Workload empty).
	Scheme string
	Host   string
}

// Target reads h.To against the cluster's workloads.
func (c *Cluster) Target(h ProxyHost) (ProxyTarget, error) {
	if !strings.Contains(h.To, "://") {
		return c.workloadTarget(h.To)
	}
	return outsideTarget(h.To)
}

func (c *Cluster) workloadTarget(name string) (ProxyTarget, error) {
	spec, known := workloadSpecs[name]
	switch w, ok := c.Workloads[name]; {
	case name == "":
		return ProxyTarget{}, fmt.Errorf("is required: a workload name or an http(s)://host:port URL")
	case !known:
		return ProxyTarget{}, fmt.Errorf("%q is neither a known workload (%s) nor an http(s):// URL", name, strings.Join(KnownWorkloads(), ", "))
	case name == ProxyWorkload:
		return ProxyTarget{}, fmt.Errorf("the proxy cannot forward to itself")
	case !ok || !w.IsEnabled():
		return ProxyTarget{}, fmt.Errorf("workload %q is not enabled", name)
	}
	port, ok := httpPort(spec.Ports)
	if !ok {
		return ProxyTarget{}, fmt.Errorf("workload %q has no TCP service port to forward to", name)
	}
	return ProxyTarget{Workload: name, Port: port}, nil
}

// httpPort is the port named http, else the first TCP port.
func httpPort(ports []Port) (int, bool) {
	first := 0
	for _, p := range ports {
		if p.Protocol != "TCP" {
			continue
		}
		if p.Name == "http" {
			return p.Port, true
		}
		if first == 0 {
			first = p.Port
		}
	}
	return first, first != 0
}

// outsideTarget accepts only scheme, host and port: the parts are written into
// nginx's configuration, where anything else could add directives.
func outsideTarget(raw string) (ProxyTarget, error) {
	u, err := url.Parse(raw)
	bad := func(why string) (ProxyTarget, error) {
		return ProxyTarget{}, fmt.Errorf("%q is not an http(s)://host:port URL: %s", raw, why)
	}
	if err != nil {
		return bad("it does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("the scheme must be http or https")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return bad("no user, path, query or fragment")
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
		return bad("the host must be an IP address or a lowercase DNS name")
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port must be 1-65535")
		}
		port = n
	}
	return ProxyTarget{Scheme: u.Scheme, Host: host, Port: port}, nil
}

// HostPort is the outside target's host:port, IPv6 addresses bracketed.
func (t ProxyTarget) HostPort() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// ProxyRecords maps every declared proxy host to the proxy's LoadBalancer
// address: the local DNS records that send clients to the proxy. It is empty
// while the proxy is disabled or has no address.
func (c *Cluster) ProxyRecords() map[string]string {
	w, ok := c.Workloads[ProxyWorkload]
	addr := c.Network.LoadBalancer.Addresses[ProxyWorkload]
	if !ok || !w.IsEnabled() || addr == "" {
		return nil
	}
	out := map[string]string{}
	for _, h := range c.Proxy.Hosts {
		out[h.Host] = addr
	}
	return out
}

// maxProxyHost leaves room for the "-tls" suffix of the certificate's Secret
// within a Kubernetes name (253).
const maxProxyHost = 249

func validateProxy(p *problems, c *Cluster) {
	if len(c.Proxy.Hosts) == 0 {
		return
	}
	if w, ok := c.Workloads[ProxyWorkload]; !ok || !w.IsEnabled() {
		p.add("proxy.hosts", "declares proxy hosts but workload %s is not enabled", ProxyWorkload)
	}
	seen := map[string]int{}
	for i, h := range c.Proxy.Hosts {
		field := fmt.Sprintf("proxy.hosts[%d]", i)
		if errs := validation.IsDNS1123Subdomain(h.Host); len(errs) > 0 {
			p.add(field+".host", "%q is not a lowercase DNS name: %s", h.Host, strings.Join(errs, "; "))
		} else if len(h.Host) > maxProxyHost {
			p.add(field+".host", "is longer than %d characters", maxProxyHost)
		}
		if j, dup := seen[h.Host]; dup {
			p.add(field+".host", "%q is already proxy.hosts[%d]", h.Host, j)
		} else {
			seen[h.Host] = i
		}
		if _, err := c.Target(h); err != nil {
			p.add(field+".to", "%v", err)
		}
		if h.HasTLS() && !c.Platform.CertManager.IsEnabled() {
			p.add(field+".tls", "needs platform.certManager, which is disabled (set tls: false or enable it)")
		}
	}
}

// applyProxyDefaults turns TLS on while cert-manager can issue certificates.
func (c *Cluster) applyProxyDefaults() {
	for i := range c.Proxy.Hosts {
		h := &c.Proxy.Hosts[i]
		if h.TLS == nil {
			h.TLS = new(c.Platform.CertManager.IsEnabled())
		}
		if h.Websockets == nil {
			h.Websockets = new(true)
		}
	}
}
