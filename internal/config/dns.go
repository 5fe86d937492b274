package config

import (
	"fmt"
	"sort"
	"strings"
)

// DNSRecord is one local A record Pi-hole answers.
type DNSRecord struct {
	Name    string // fully qualified, without the trailing dot
	Address string
	// Field is the cluster-file field the record comes from, for errors.
	Field string
}

// LocalRecords returns the local records, sorted by name: one per exposed
// service (<name>.<localDomain> → its LoadBalancer address), one per proxy
// host (→ nginx-proxy-manager's address) and the extra dns.records. Duplicate names are kept; validation reports them.
//
// This is the one place records are made: a feature that adds names (proxy
// hosts pointing at nginx-proxy-manager) appends here, and validation and
// the Pi-hole renderer both see them.
func (c *Cluster) LocalRecords() []DNSRecord {
	var out []DNSRecord
	for _, s := range c.ExposedServices() {
		name, field := ServiceRecordName(s.Workload), "network.loadBalancer.addresses."+s.Workload
		if n, ok := c.DNS.Names[s.Workload]; ok {
			name, field = n, "dns.names."+s.Workload
		}
		out = append(out, DNSRecord{Name: c.DNS.qualify(name), Address: s.Address, Field: field})
	}
	proxy := c.ProxyRecords()
	for i, h := range c.Proxy.Hosts {
		if addr, ok := proxy[h.Host]; ok {
			delete(proxy, h.Host) // a repeated host is proxy validation's error, not a second record
			out = append(out, DNSRecord{Name: h.Host, Address: addr, Field: fmt.Sprintf("proxy.hosts[%d].host", i)})
		}
	}
	for _, name := range SortedKeys(c.DNS.Records) {
		out = append(out, DNSRecord{Name: c.DNS.qualify(name), Address: c.DNS.Records[name], Field: "dns.records." + name})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ServiceRecordName is the default record name of an exposed workload:
// its name without a "-server" suffix (immich-server → immich).
func ServiceRecordName(workload string) string {
	return strings.TrimSuffix(workload, "-server")
}

// qualify puts a name without a dot under the local domain.
func (d DNS) qualify(name string) string {
	if strings.Contains(name, ".") || d.LocalDomain == "" {
		return name
	}
	return name + "." + d.LocalDomain
}
