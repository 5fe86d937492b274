package config

import "sort"

// Servers returns the server nodes in file order: only the first one may
// initialise etcd (when no server has a cluster yet), and a joining node
// joins through the first one that has the cluster (k3s.DecideJoin).
func (c *Cluster) Servers() []Node {
	var out []Node
	for _, n := range c.Nodes {
		if n.Role == RoleServer {
			out = append(out, n)
		}
	}
	return out
}

// FirstServer returns the only server that may run cluster-init.
func (c *Cluster) FirstServer() (Node, bool) {
	s := c.Servers()
	if len(s) == 0 {
		return Node{}, false
	}
	return s[0], true
}

// Node returns the node with the given name.
func (c *Cluster) Node(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// EnabledWorkloads returns the names of enabled workloads, sorted.
func (c *Cluster) EnabledWorkloads() []string {
	var out []string
	for name, w := range c.Workloads {
		if w.IsEnabled() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// PossibleLabels are the labels node n may carry: the ones k3s sets, its
// static labels, those of its disks and of the USB devices expected on it.
// Validation and placement planning use them to decide where a HARD rule can
// be met.
func (c *Cluster) PossibleLabels(n Node) map[string]string {
	labels := map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/arch": n.Arch}
	if n.Role == RoleServer {
		labels["node-role.kubernetes.io/control-plane"] = "true"
		labels["node-role.kubernetes.io/etcd"] = "true"
	}
	merge := func(m map[string]string) {
		for k, v := range m {
			labels[k] = v
		}
	}
	merge(n.Labels)
	for _, d := range n.Disks {
		merge(d.Labels)
	}
	rules := c.USBRules()
	for _, u := range n.USB {
		for _, r := range rules {
			if r.Name == u {
				merge(r.Labels)
			}
		}
	}
	return labels
}
