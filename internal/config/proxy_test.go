package config

import (
	"maps"
	"testing"
)

func TestProxyTargetsAndRecords(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.Proxy.Hosts = []ProxyHost{
		{Host: "photos.home", To: "immich-server"},
		{Host: "dns.home", To: "pihole"},
		{Host: "nas.home", To: "https://[fd00::5]"},
	}
	c.applyProxyDefaults()
	for _, tc := range []struct {
		host ProxyHost
		want ProxyTarget
	}{
		{c.Proxy.Hosts[0], ProxyTarget{Workload: "immich-server", Port: 2283}},
		// pihole's first port is DNS: the one named http wins.
		{c.Proxy.Hosts[1], ProxyTarget{Workload: "pihole", Port: 80}},
		{c.Proxy.Hosts[2], ProxyTarget{Scheme: "https", Host: "fd00::5", Port: 443}},
	} {
		got, err := c.Target(tc.host)
		if err != nil || got != tc.want {
			t.Errorf("Target(%s) = %+v, %v; want %+v", tc.host.To, got, err, tc.want)
		}
	}
	if hp := (ProxyTarget{Host: "fd00::5", Port: 443}).HostPort(); hp != "[fd00::5]:443" {
		t.Errorf("HostPort = %s", hp)
	}
	if !c.Proxy.Hosts[0].HasTLS() || !c.Proxy.Hosts[0].HasWebsockets() {
		t.Errorf("defaults with cert-manager enabled: tls %v websockets %v, want both on", c.Proxy.Hosts[0].HasTLS(), c.Proxy.Hosts[0].HasWebsockets())
	}
	want := map[string]string{"photos.home": "10.0.0.100", "dns.home": "10.0.0.100", "nas.home": "10.0.0.100"}
	if got := c.ProxyRecords(); !maps.Equal(got, want) {
		t.Errorf("ProxyRecords = %v, want %v", got, want)
	}
	npm := c.Workloads[ProxyWorkload]
	npm.Enabled = new(false)
	c.Workloads[ProxyWorkload] = npm
	if got := c.ProxyRecords(); len(got) != 0 {
		t.Errorf("ProxyRecords with the proxy disabled = %v, want none", got)
	}
}

func TestProxyTLSDefaultsOffWithoutCertManager(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.Platform.CertManager.Enabled = new(false)
	c.Proxy.Hosts = []ProxyHost{{Host: "photos.home", To: "immich-server"}}
	c.applyProxyDefaults()
	if c.Proxy.Hosts[0].HasTLS() {
		t.Error("tls defaults to on without cert-manager")
	}
}
