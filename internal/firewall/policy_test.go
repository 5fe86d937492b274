package firewall

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

func homelab(t *testing.T) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &f.Cluster
}

func ruleStrings(rs []Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func TestDesiredHomelabServer(t *testing.T) {
	c := homelab(t)
	n, _ := c.Node("pi4-1")
	want := []string{
		"ufw allow proto tcp from 10.0.0.0/24 to any port 22 comment nodeagent:ssh",
		"ufw allow proto tcp from 10.0.0.12 to any port 2379:2380 comment nodeagent:etcd",
		"ufw allow proto tcp from 10.0.0.13 to any port 2379:2380 comment nodeagent:etcd",
		"ufw allow proto tcp from 10.0.0.0/24 to any port 6443 comment nodeagent:apiserver",
		"ufw allow proto tcp from 10.0.0.12 to any port 10250 comment nodeagent:kubelet",
		"ufw allow proto udp from 10.0.0.12 to any port 8472 comment nodeagent:flannel",
		"ufw allow proto tcp from 10.0.0.12 to any port 7946 comment nodeagent:metallb",
		"ufw allow proto udp from 10.0.0.12 to any port 7946 comment nodeagent:metallb",
		"ufw allow proto tcp from 10.0.0.12 to any port 45876 comment nodeagent:hostport/agent",
		"ufw allow proto tcp from 10.0.0.13 to any port 10250 comment nodeagent:kubelet",
		"ufw allow proto udp from 10.0.0.13 to any port 8472 comment nodeagent:flannel",
		"ufw allow proto tcp from 10.0.0.13 to any port 7946 comment nodeagent:metallb",
		"ufw allow proto udp from 10.0.0.13 to any port 7946 comment nodeagent:metallb",
		"ufw allow proto tcp from 10.0.0.13 to any port 45876 comment nodeagent:hostport/agent",
		// Pods reach only the kubelet, the apiserver and the host-network
		// ports, and only from cni0 and flannel.1, never from the LAN.
		"ufw allow in on cni0 proto tcp from 10.42.0.0/16 to any port 6443,10250,45876 comment nodeagent:pods",
		"ufw allow in on cni0 proto tcp from 10.43.0.0/16 to any port 6443,10250,45876 comment nodeagent:services",
		"ufw allow in on flannel.1 proto tcp from 10.42.0.0/16 to any port 6443,10250,45876 comment nodeagent:pods",
		"ufw allow in on flannel.1 proto tcp from 10.43.0.0/16 to any port 6443,10250,45876 comment nodeagent:services",
		"ufw route allow in on cni0 from 10.42.0.0/16 to any comment nodeagent:pods-routed",
		"ufw route allow in on flannel.1 from 10.42.0.0/16 to any comment nodeagent:pods-routed",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 8090 comment nodeagent:lb/beszel/http",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 8081 comment nodeagent:lb/filebrowser/http",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 8123 comment nodeagent:lb/home-assistant/http",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 2283 comment nodeagent:lb/immich-server/http",
		// pihole's 80/tcp is the same rule as nginx-proxy-manager's: kept once.
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 80 comment nodeagent:lb/nginx-proxy-manager/http",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 443 comment nodeagent:lb/nginx-proxy-manager/https",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 81 comment nodeagent:lb/nginx-proxy-manager/admin",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 53 comment nodeagent:lb/pihole/dns-tcp",
		"ufw route allow proto udp from 10.0.0.0/24 to 10.42.0.0/16 port 53 comment nodeagent:lb/pihole/dns-udp",
	}
	if diff := cmp.Diff(want, ruleStrings(Desired(c, n))); diff != "" {
		t.Errorf("Desired (-want +got):\n%s", diff)
	}
}

func TestDesiredVariants(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name   string
		node   string
		modify func(c *config.Cluster)
		want   []string
	}{{
		name: "agent with wireguard, tailscale, no MetalLB, no services, extra rules",
		node: "agent",
		modify: func(c *config.Cluster) {
			c.Nodes = []config.Node{{Name: "s1", Address: "10.0.0.11", Role: config.RoleServer},
				{Name: "agent", Address: "10.0.0.21", Role: config.RoleAgent}}
			c.K3s.FlannelBackend = "wireguard-native"
			c.Network.TailscaleInterface = "tailscale0"
			c.Platform.MetalLB.Enabled = &off
			c.Network.LoadBalancer.Addresses = nil
			c.Firewall.SSHSources = []string{"10.0.0.5/32", "10.0.0.77/24", "2001:DB8::1/64"}
			c.Firewall.SSHPort = 2222
			c.Firewall.ExtraRules = []config.FirewallRule{
				{Port: "9100", Proto: "tcp", From: "10.0.0.11", Comment: "node-exporter"},
				{Port: "60000:60010", Proto: "any", From: "10.0.0.0/24", Comment: "mosh"},
				{Port: "5353", Proto: "any", From: "10.0.0.0/24"},
			}
		},
		want: []string{
			"ufw allow proto tcp from 10.0.0.5 to any port 2222 comment nodeagent:ssh",
			"ufw allow proto tcp from 10.0.0.0/24 to any port 2222 comment nodeagent:ssh",
			"ufw allow proto tcp from 2001:db8::1/64 to any port 2222 comment nodeagent:ssh",
			"ufw allow in on tailscale0 proto tcp from any to any port 2222 comment nodeagent:ssh-tailscale",
			"ufw allow proto tcp from 10.0.0.11 to any port 10250 comment nodeagent:kubelet",
			"ufw allow proto udp from 10.0.0.11 to any port 51820:51821 comment nodeagent:flannel",
			"ufw allow proto tcp from 10.0.0.11 to any port 45876 comment nodeagent:hostport/agent",
			// An agent serves no apiserver; WireGuard's tunnel is flannel-wg.
			"ufw allow in on cni0 proto tcp from 10.42.0.0/16 to any port 10250,45876 comment nodeagent:pods",
			"ufw allow in on cni0 proto tcp from 10.43.0.0/16 to any port 10250,45876 comment nodeagent:services",
			"ufw allow in on flannel-wg proto tcp from 10.42.0.0/16 to any port 10250,45876 comment nodeagent:pods",
			"ufw allow in on flannel-wg proto tcp from 10.43.0.0/16 to any port 10250,45876 comment nodeagent:services",
			"ufw route allow in on cni0 from 10.42.0.0/16 to any comment nodeagent:pods-routed",
			"ufw route allow in on flannel-wg from 10.42.0.0/16 to any comment nodeagent:pods-routed",
			"ufw allow proto tcp from 10.0.0.11 to any port 9100 comment nodeagent:extra:node-exporter",
			"ufw allow proto tcp from 10.0.0.0/24 to any port 60000:60010 comment nodeagent:extra:mosh",
			"ufw allow proto udp from 10.0.0.0/24 to any port 60000:60010 comment nodeagent:extra:mosh",
			"ufw allow from 10.0.0.0/24 to any port 5353 comment nodeagent:extra",
		},
	}, {
		name: "server with a peer outside the LAN, host-gw",
		node: "s1",
		modify: func(c *config.Cluster) {
			c.Nodes = []config.Node{{Name: "s1", Address: "10.0.0.11", Role: config.RoleServer},
				{Name: "remote", Address: "192.168.7.2", Role: config.RoleAgent}}
			c.K3s.FlannelBackend = "host-gw"
			c.Platform.MetalLB.Enabled = &off
			c.Network.LoadBalancer.Addresses = nil
		},
		want: []string{
			"ufw allow proto tcp from 10.0.0.0/24 to any port 22 comment nodeagent:ssh",
			"ufw allow proto tcp from 10.0.0.0/24 to any port 6443 comment nodeagent:apiserver",
			"ufw allow proto tcp from 192.168.7.2 to any port 6443 comment nodeagent:apiserver",
			"ufw allow proto tcp from 192.168.7.2 to any port 10250 comment nodeagent:kubelet",
			"ufw allow proto tcp from 192.168.7.2 to any port 45876 comment nodeagent:hostport/agent",
			// host-gw has no tunnel: other nodes' pod packets are routed in
			// on the LAN interface, and only routed there.
			"ufw allow in on cni0 proto tcp from 10.42.0.0/16 to any port 6443,10250,45876 comment nodeagent:pods",
			"ufw allow in on cni0 proto tcp from 10.43.0.0/16 to any port 6443,10250,45876 comment nodeagent:services",
			"ufw route allow in on cni0 from 10.42.0.0/16 to any comment nodeagent:pods-routed",
			"ufw route allow in on eth0 from 10.42.0.0/16 to any comment nodeagent:pods-routed",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := homelab(t)
			tc.modify(c)
			n, ok := c.Node(tc.node)
			if !ok {
				t.Fatalf("no node %s", tc.node)
			}
			if diff := cmp.Diff(tc.want, ruleStrings(Desired(c, n))); diff != "" {
				t.Errorf("Desired (-want +got):\n%s", diff)
			}
		})
	}
}

func ruleArgv(args []string) string { return host.QuoteArgv("ufw", args) }
