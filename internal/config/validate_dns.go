package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// settingKeyRe is a pihole.toml key: a section and one or more keys, as
// Pi-hole's reference spells them (dns.dnssec, dns.cache.size,
// misc.dnsmasq_lines).
var settingKeyRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*(\.[a-zA-Z][a-zA-Z0-9_]*)+$`)

// credentialKeyRe matches pihole.toml keys that hold credentials
// (webserver.api.app_pwhash, webserver.api.totp_secret).
var credentialKeyRe = regexp.MustCompile(`(?i)pass|pwhash|secret|token`)

// reservedSettings are the pihole.toml keys other fields own.
var reservedSettings = map[string]string{
	"dns.upstreams":          "set it with dns.upstreams",
	"dns.hosts":              "the records come from dns.records and the exposed services",
	"dns.domain":             "set it with dns.localDomain",
	"dns.domain.name":        "set it with dns.localDomain",
	"dns.listeningMode":      "nodeagent sets it to all: behind the Service no client is on Pi-hole's own subnet",
	"webserver.api.password": "it is read from Secret network/pihole (key password), never from the cluster file",
}

func validateDNS(p *problems, c *Cluster) {
	d := c.DNS
	if errs := validation.IsDNS1123Subdomain(d.LocalDomain); len(errs) > 0 {
		p.add("dns.localDomain", "%q is not a DNS domain: %s", d.LocalDomain, strings.Join(errs, "; "))
	}
	if len(d.Upstreams) == 0 {
		p.add("dns.upstreams", "must list at least one resolver: Pi-hole forwards nothing without one")
	}
	for i, u := range d.Upstreams {
		if err := checkUpstream(u); err != nil {
			p.add(fmt.Sprintf("dns.upstreams[%d]", i), "%v", err)
		}
	}
	for _, name := range SortedKeys(d.Records) {
		field := "dns.records." + name
		checkRecordName(p, field, name)
		if _, err := netip.ParseAddr(d.Records[name]); err != nil {
			p.add(field, "%q is not an IP address", d.Records[name])
		}
	}
	exposed := map[string]bool{}
	for _, s := range c.ExposedServices() {
		exposed[s.Workload] = true
	}
	for _, w := range SortedKeys(d.Names) {
		field := "dns.names." + w
		if !exposed[w] {
			p.add(field, "%q is not an enabled workload with a LoadBalancer address", w)
		}
		checkRecordName(p, field, d.Names[w])
	}
	checkDuplicateRecords(p, c.LocalRecords())
	for _, k := range SortedKeys(c.Workloads["pihole"].Env) {
		if strings.HasPrefix(k, "FTLCONF_") {
			p.add("workloads.pihole.env."+k, "set pihole.toml settings in dns.settings: there they are validated and roll both replicas")
		}
	}
	for _, key := range SortedKeys(d.Settings) {
		field := "dns.settings." + key
		if why, ok := reservedSettings[key]; ok {
			p.add(field, "is reserved: %s", why)
		} else if !settingKeyRe.MatchString(key) {
			p.add(field, "%q is not a pihole.toml key like dns.dnssec", key)
		} else if credentialKeyRe.MatchString(key) {
			p.add(field, "looks like a credential: settings go into a ConfigMap, which is not secret")
		}
	}
}

// checkUpstream accepts what nodeagent can check offline: an IP address,
// optionally with #port (dnsmasq's server= syntax, which Pi-hole passes on).
func checkUpstream(s string) error {
	host, port, hasPort := strings.Cut(s, "#")
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q is not an IP address (optionally with #port)", s)
	}
	if n, err := strconv.Atoi(port); hasPort && (err != nil || n < 1 || n > 65535) {
		return fmt.Errorf("%q has no port 1-65535 after #", s)
	}
	return nil
}

// checkRecordName accepts a label (put under the local domain) or a full
// name.
func checkRecordName(p *problems, field, name string) {
	check, what := validation.IsDNS1123Label, "a DNS label"
	if strings.Contains(name, ".") {
		check, what = validation.IsDNS1123Subdomain, "a DNS name"
	}
	if errs := check(name); len(errs) > 0 {
		p.add(field, "%q is not %s: %s", name, what, strings.Join(errs, "; "))
	}
}

// checkDuplicateRecords reports each record whose name an earlier one has
// taken. A service's default record is the earlier one: the error then
// points at the dns.records or dns.names line that collides with it.
func checkDuplicateRecords(p *problems, records []DNSRecord) {
	first := map[string]DNSRecord{}
	for _, r := range records {
		if strings.HasPrefix(r.Field, "network.") {
			first[r.Name] = r
		}
	}
	for _, r := range records {
		owner, taken := first[r.Name]
		if !taken {
			first[r.Name] = r
			continue
		}
		if owner != r {
			p.add(r.Field, "%s is already the record of %s", r.Name, owner.Field)
		}
	}
}
