package firewall

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Defaults are ufw's default policies, in the words `ufw default` takes
// (allow, deny, reject).
type Defaults struct {
	Incoming, Outgoing, Routed string
}

// DesiredDefaults is the policy of every node: nothing comes in or through
// unless a rule says so, everything may go out. Routed stays "deny" (not
// "allow" as many k3s guides suggest) so a node never becomes an open
// router between the LAN and the pod network; the route rules of Desired
// let through exactly the pod traffic and the LoadBalancer ports.
func DesiredDefaults() Defaults {
	return Defaults{Incoming: "deny", Outgoing: "allow", Routed: "deny"}
}

// Comments of the rules nodeagent creates; OwnerTag + purpose.
const (
	tagSSH       = OwnerTag + "ssh"
	tagEtcd      = OwnerTag + "etcd"
	tagAPI       = OwnerTag + "apiserver"
	tagKubelet   = OwnerTag + "kubelet"
	tagFlannel   = OwnerTag + "flannel"
	tagMetalLB   = OwnerTag + "metallb"
	tagPods      = OwnerTag + "pods"
	tagServices  = OwnerTag + "services"
	tagPodsRoute = OwnerTag + "pods-routed"
	tagLB        = OwnerTag + "lb/"
	tagExtra     = OwnerTag + "extra"
	tagHostPort  = OwnerTag + "hostport/"
)

// Desired is the rule set of node n, SSH rules first: Apply adds rules in
// this order, so the way in for the owner exists before anything else
// changes. Every rule names the narrowest source the cluster file gives
// (a node address, the LAN, the pod network), never Anywhere, except SSH on
// the Tailscale interface, which only Tailscale peers can reach.
func Desired(c *config.Cluster, n config.Node) []Rule {
	var rs []Rule
	rs = append(rs, sshRules(c)...)
	rs = append(rs, clusterRules(c, n)...)
	rs = append(rs, podRules(c)...)
	rs = append(rs, loadBalancerRules(c)...)
	rs = append(rs, extraRules(c)...)
	return dedupe(rs)
}

func sshRules(c *config.Cluster) []Rule {
	port := strconv.Itoa(c.Firewall.SSHPort)
	var rs []Rule
	for _, src := range c.Firewall.SSHSources {
		rs = append(rs, allowIn("tcp", src, port, tagSSH))
	}
	if ifc := c.Network.TailscaleInterface; ifc != "" {
		r := allowIn("tcp", Any, port, tagSSH+"-tailscale")
		r.InIface = ifc
		rs = append(rs, r)
	}
	return rs
}

// clusterRules opens the ports of k3s's "Inbound rules for K3s nodes" to
// the other nodes' addresses only.
func clusterRules(c *config.Cluster, n config.Node) []Rule {
	var rs []Rule
	if n.Role == config.RoleServer {
		for _, s := range others(c.Servers(), n) {
			rs = append(rs, allowIn("tcp", s.Address, "2379:2380", tagEtcd))
		}
		// kubectl from the LAN; other nodes (agents reach the supervisor and
		// API here) are covered by it unless they sit outside the LAN.
		rs = append(rs, allowIn("tcp", c.Network.LANCIDR, "6443", tagAPI))
		for _, o := range others(c.Nodes, n) {
			if !within(o.Address, c.Network.LANCIDR) {
				rs = append(rs, allowIn("tcp", o.Address, "6443", tagAPI))
			}
		}
	}
	metallb := c.Platform.MetalLB.IsEnabled()
	for _, o := range others(c.Nodes, n) {
		rs = append(rs, allowIn("tcp", o.Address, "10250", tagKubelet))
		if port := flannelPort(c.K3s.FlannelBackend); port != "" {
			rs = append(rs, allowIn("udp", o.Address, port, tagFlannel))
		}
		if metallb {
			rs = append(rs, allowIn("tcp", o.Address, "7946", tagMetalLB),
				allowIn("udp", o.Address, "7946", tagMetalLB))
		}
		// Host-network pods (beszel-agent) are reached on the node's own
		// address; across nodes flannel masquerades the caller to its node.
		for _, p := range c.NodeHostPorts() {
			rs = append(rs, allowIn(strings.ToLower(p.Protocol), o.Address, strconv.Itoa(p.Port), tagHostPort+p.Name))
		}
	}
	return rs
}

// flannelPort is the node-to-node port of the flannel backend: VXLAN on
// 8472, WireGuard on 51820 (IPv4) and 51821 (IPv6); host-gw routes plain
// packets and needs none.
func flannelPort(backend string) string {
	switch backend {
	case "", "vxlan":
		return "8472"
	case "wireguard-native":
		return "51820:51821"
	}
	return ""
}

// podRules lets the pod and service networks in, as the k3s docs ask for
// UFW (`ufw allow from 10.42.0.0/16 to any`, same for 10.43.0.0/16): pods
// reach the API, CoreDNS and host-network pods through the node's INPUT.
// Routed pod traffic (pod egress, pod to pod across nodes: the peer node
// sees the sender's flannel address, inside the pod network) needs the
// route rule, since the routed default stays deny.
func podRules(c *config.Cluster) []Rule {
	rs := []Rule{
		allowIn(Any, c.K3s.ClusterCIDR, Any, tagPods),
		allowIn(Any, c.K3s.ServiceCIDR, Any, tagServices),
	}
	r := allowIn(Any, c.K3s.ClusterCIDR, Any, tagPodsRoute)
	r.Route = true
	return append(rs, r)
}

func extraRules(c *config.Cluster) []Rule {
	var rs []Rule
	for _, e := range c.Firewall.ExtraRules {
		tag := tagExtra
		if e.Comment != "" {
			tag += ":" + e.Comment
		}
		protos := []string{e.Proto}
		// ufw refuses a port range without a protocol: split it.
		if (e.Proto == Any || e.Proto == "") && strings.Contains(e.Port, ":") {
			protos = []string{"tcp", "udp"}
		}
		for _, p := range protos {
			rs = append(rs, allowIn(p, e.From, e.Port, tag))
		}
	}
	return rs
}

func allowIn(proto, from, port, comment string) Rule {
	return Rule{Action: "allow", Direction: "in", Proto: orAny(proto), From: canonicalAddr(orAny(from)),
		To: Any, SPort: Any, Port: orAny(port), Comment: comment}
}

func others(nodes []config.Node, self config.Node) []config.Node {
	var out []config.Node
	for _, o := range nodes {
		if o.Name != self.Name && o.Address != self.Address {
			out = append(out, o)
		}
	}
	return out
}

// canonicalAddr writes an address or CIDR the way ufw stores it, so a
// desired rule compares equal to its live twin: a full-length prefix is a
// plain address, IPv4 host bits are cleared (ufw masks 10.0.0.5/24 to
// 10.0.0.0/24), IPv6 is lower case with host bits kept (ufw keeps them).
func canonicalAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return s
	}
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	if p.Addr().Is4() {
		return p.Masked().String()
	}
	return p.String()
}

// within reports whether addr lies inside cidr.
func within(addr, cidr string) bool {
	a, err1 := netip.ParseAddr(addr)
	p, err2 := netip.ParsePrefix(cidr)
	return err1 == nil && err2 == nil && p.Contains(a)
}

// dedupe drops rules whose key an earlier rule already has (pihole and
// nginx-proxy-manager both expose 80/tcp); ufw would refuse the second.
func dedupe(rs []Rule) []Rule {
	seen := map[Rule]bool{}
	out := rs[:0]
	for _, r := range rs {
		if k := r.Key(); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}
