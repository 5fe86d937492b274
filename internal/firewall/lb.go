package firewall

import (
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// loadBalancerRules lets the LAN reach the LoadBalancer services on their
// ports, and nothing else behind the node.
//
// Why route rules to the pod network: MetalLB (L2) makes one node answer
// ARP for a service address; that node's kube-proxy DNATs the packet in
// PREROUTING from <LB address>:<port> to <pod IP>:<targetPort>. The
// destination is then not local, so the packet crosses FORWARD (to cni0 for
// a local pod, to flannel.1 for a pod elsewhere), never INPUT: an `ufw
// allow` rule for the LB address would match nothing. FORWARD sees the
// post-DNAT destination, and the pre-DNAT one is only visible to conntrack
// (`-m conntrack --ctorigdst`), which ufw's rule syntax cannot express;
// adding it would mean editing before.rules, a conffile of the ufw package
// that nodeagent does not own. So the rule is "route allow from <LAN> to
// <pod network> port <targetPort> proto <p>": the narrowest ufw can say.
// It also admits LAN hosts that route to a pod directly on that port,
// which is the same service. On the node that hosts the pod, a packet
// forwarded by another node arrives from that node's flannel address,
// inside the pod network, and passes the pod route rule of podRules.
//
// The services' target port is taken to be their port: the manifests render
// LoadBalancer services with targetPort equal to port (config.Port has no
// separate target port).
//
// Keeping DEFAULT_FORWARD_POLICY at ACCEPT instead would make every node a
// router from the LAN into the pod network on every port.
func loadBalancerRules(c *config.Cluster) []Rule {
	var rs []Rule
	for _, svc := range c.ExposedServices() {
		for _, p := range svc.Ports {
			r := allowIn(strings.ToLower(p.Protocol), c.Network.LANCIDR, strconv.Itoa(targetPort(p)),
				tagLB+svc.Workload+"/"+p.Name)
			r.Route = true
			r.To = canonicalAddr(c.K3s.ClusterCIDR)
			rs = append(rs, r)
		}
	}
	return rs
}

// targetPort is the container port a service port is DNATed to.
func targetPort(p config.Port) int { return p.Port }
