package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// AddrRange is an inclusive range of addresses.
type AddrRange struct{ First, Last netip.Addr }

// Contains reports whether a lies in the range.
func (r AddrRange) Contains(a netip.Addr) bool {
	return r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// ParsePoolEntry reads a MetalLB pool entry: a CIDR or "first-last".
func ParsePoolEntry(s string) (AddrRange, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || b.Less(a) {
			return AddrRange{}, fmt.Errorf("%q is not a range like 10.0.0.50-10.0.0.99", s)
		}
		return AddrRange{a, b}, nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return AddrRange{}, fmt.Errorf("%q is neither a CIDR nor a first-last range", s)
	}
	pfx = pfx.Masked()
	last := pfx.Addr()
	for next := last.Next(); next.IsValid() && pfx.Contains(next); next = next.Next() {
		last = next
	}
	return AddrRange{pfx.Addr(), last}, nil
}

func validateLoadBalancer(p *problems, c *Cluster, lan netip.Prefix) {
	lb := c.Network.LoadBalancer
	var pool []AddrRange
	for i, entry := range lb.Pool {
		field := fmt.Sprintf("network.loadBalancer.pool[%d]", i)
		r, err := ParsePoolEntry(entry)
		if err != nil {
			p.add(field, "%v", err)
			continue
		}
		if lan.IsValid() && (!lan.Contains(r.First) || !lan.Contains(r.Last)) {
			p.add(field, "%s is not inside network.lanCIDR %s", entry, lan)
		}
		pool = append(pool, r)
	}
	nodeAddrs := map[netip.Addr]string{}
	for _, n := range c.Nodes {
		if a, err := netip.ParseAddr(n.Address); err == nil {
			nodeAddrs[a] = n.Name
		}
	}
	seen := map[netip.Addr]string{}
	for _, name := range SortedKeys(lb.Addresses) {
		field := "network.loadBalancer.addresses." + name
		spec, known := workloadSpecs[name]
		if !known {
			p.add(field, "unknown workload %q (known: %s)", name, strings.Join(KnownWorkloads(), ", "))
		} else if len(spec.Ports) == 0 {
			p.add(field, "workload %q has no service to expose", name)
		}
		a, err := netip.ParseAddr(lb.Addresses[name])
		if err != nil {
			p.add(field, "%q is not an IP address", lb.Addresses[name])
			continue
		}
		if other, ok := seen[a]; ok {
			p.add(field, "%s is already the address of %s", a, other)
		}
		seen[a] = name
		if node, ok := nodeAddrs[a]; ok {
			p.add(field, "%s collides with the address of node %s", a, node)
		}
		if !inPool(pool, a) {
			p.add(field, "%s is outside network.loadBalancer.pool", a)
		}
	}
	for _, name := range c.EnabledWorkloads() {
		if spec := workloadSpecs[name]; len(spec.Ports) > 0 && lb.Addresses[name] == "" {
			p.add("workloads."+name, "has a LoadBalancer service but no address in network.loadBalancer.addresses")
		}
	}
}

func inPool(pool []AddrRange, a netip.Addr) bool {
	for _, r := range pool {
		if r.Contains(a) {
			return true
		}
	}
	return false
}
