package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocalRecordsHomelab(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	f.DNS.Records = map[string]string{"nas": "10.0.0.20", "printer.lan": "10.0.0.30"}
	f.DNS.Names = map[string]string{"home-assistant": "ha"}
	f.Proxy.Hosts = []ProxyHost{{Host: "photos.home", To: "immich-server"}, {Host: "photos.home", To: "beszel"}}
	want := []DNSRecord{
		{"beszel.home", "10.0.0.104", "network.loadBalancer.addresses.beszel"},
		{"filebrowser.home", "10.0.0.103", "network.loadBalancer.addresses.filebrowser"},
		{"ha.home", "10.0.0.102", "dns.names.home-assistant"},
		{"immich.home", "10.0.0.101", "network.loadBalancer.addresses.immich-server"},
		{"nas.home", "10.0.0.20", "dns.records.nas"},
		{"nginx-proxy-manager.home", "10.0.0.100", "network.loadBalancer.addresses.nginx-proxy-manager"},
		{"photos.home", "10.0.0.100", "proxy.hosts[0].host"},
		{"pihole.home", "10.0.0.53", "network.loadBalancer.addresses.pihole"},
		{"printer.lan", "10.0.0.30", "dns.records.printer.lan"},
	}
	if diff := cmp.Diff(want, f.LocalRecords()); diff != "" {
		t.Errorf("LocalRecords (-want +got):\n%s", diff)
	}
	if f.DNS.LocalDomain != "home" || len(f.DNS.Upstreams) != 2 {
		t.Errorf("dns defaults = %+v", f.DNS)
	}
}
