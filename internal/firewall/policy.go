package firewall

import (
	"net/netip"
	"slices"
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
	rs = append(rs, podRules(c, n)...)
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
// UFW (https://docs.k3s.io/installation/requirements#operating-systems:
// `ufw allow from 10.42.0.0/16 to any`, same for 10.43.0.0/16), but only on
// the interfaces pod packets use (cni0, the flannel tunnel) and only to the
// host ports pods need: bound to no interface, a LAN host that spoofs a pod
// address would reach every port of the node (issue #22, item 11).
// Routed pod traffic (pod egress, pod to pod across nodes: the peer node
// sees the sender's flannel address, inside the pod network) needs the
// route rules, since the routed default stays deny; pod egress may go
// anywhere, as before.
func podRules(c *config.Cluster, n config.Node) []Rule {
	var rs []Rule
	for _, ifc := range podInputIfaces(c) {
		for _, src := range []struct{ cidr, tag string }{
			{c.K3s.ClusterCIDR, tagPods}, {c.K3s.ServiceCIDR, tagServices},
		} {
			for _, p := range podHostPorts(c, n) {
				r := allowIn(p.proto, src.cidr, p.ports, src.tag)
				r.InIface = ifc
				rs = append(rs, r)
			}
		}
	}
	for _, ifc := range podRouteIfaces(c) {
		r := allowIn(Any, c.K3s.ClusterCIDR, Any, tagPodsRoute)
		r.Route, r.InIface = true, ifc
		rs = append(rs, r)
	}
	return rs
}

// cniBridge is the bridge k3s's flannel CNI puts the node's pods on.
const cniBridge = "cni0"

// flannelIface is the tunnel interface of the flannel backend
// (https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md;
// k3s-killall.sh removes the same names): vxlan's flannel.1, WireGuard's
// flannel-wg. host-gw has none (pod packets of other nodes come in on the
// LAN interface), and "none" means another CNI whose names are unknown.
func flannelIface(backend string) string {
	switch backend {
	case "", "vxlan":
		return "flannel.1"
	case "wireguard-native":
		return "flannel-wg"
	}
	return ""
}

// podInputIfaces are the interfaces where pod packets to the node itself
// arrive: from the node's own pods on the bridge, and, for a node's
// flannel address, from other nodes' pods through the tunnel. (A pod on
// another node reaching this node's LAN address is masqueraded by flannel
// to its node's address, which clusterRules cover.)
func podInputIfaces(c *config.Cluster) []string {
	out := []string{cniBridge}
	if ifc := flannelIface(c.K3s.FlannelBackend); ifc != "" {
		out = append(out, ifc)
	}
	return out
}

// podRouteIfaces are where routed pod packets come in: the bridge, the
// tunnel, and with host-gw the LAN interface, which carries other nodes'
// pod packets unencapsulated (host-gw cannot tell them from spoofed ones).
func podRouteIfaces(c *config.Cluster) []string {
	ifs := podInputIfaces(c)
	if c.K3s.FlannelBackend == "host-gw" && c.Network.Interface != "" {
		ifs = append(ifs, c.Network.Interface)
	}
	return ifs
}

// protoPorts is one ufw port list ("6443,10250") of one protocol.
type protoPorts struct{ proto, ports string }

// podHostPorts are the node's ports pods need, per protocol, each list
// sorted (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes):
//   - 10250/tcp, the kubelet: metrics-server scrapes its node's kubelet;
//   - 6443/tcp on servers: the apiserver behind the kubernetes Service
//     (10.43.0.1:443 is DNATed to the servers' addresses);
//   - the ports of host-network pods (beszel-agent), which other pods call
//     on the node's address.
//
// DNS is not here: CoreDNS is a pod, reached through the routed rules.
func podHostPorts(c *config.Cluster, n config.Node) []protoPorts {
	ports := map[string][]int{"tcp": {10250}}
	if n.Role == config.RoleServer {
		ports["tcp"] = append(ports["tcp"], 6443)
	}
	for _, p := range c.NodeHostPorts() {
		proto := strings.ToLower(p.Protocol)
		ports[proto] = append(ports[proto], p.Port)
	}
	var out []protoPorts
	for _, proto := range []string{"tcp", "udp"} {
		if list := ports[proto]; len(list) > 0 {
			out = append(out, protoPorts{proto, portList(list)})
		}
	}
	return out
}

// portList is ufw's multiport form, sorted and without duplicates.
func portList(ports []int) string {
	slices.Sort(ports)
	var s []string
	for _, p := range slices.Compact(ports) {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
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
