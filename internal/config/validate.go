package config

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	k3sVersionRe = regexp.MustCompile(`^v1\.\d+\.\d+\+k3s\d+$`)
	sha256Re     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hexIDRe      = regexp.MustCompile(`^[0-9a-fA-F]{4}$`)
)

// Arches are the k3s release architectures nodeagent installs.
var Arches = []string{"arm64", "amd64", "arm"}

var k3sComponents = []string{"coredns", "servicelb", "traefik", "local-storage", "metrics-server", "runtimes"}

func (f *File) validate() []FieldError {
	p := &problems{lines: f.lines}
	c := &f.Cluster
	if c.APIVersion != APIVersion {
		p.add("apiVersion", "must be %q, got %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		p.add("kind", "must be %q, got %q", Kind, c.Kind)
	}
	if errs := validation.IsDNS1123Label(c.Metadata.Name); len(errs) > 0 {
		p.add("metadata.name", "%q: %s", c.Metadata.Name, strings.Join(errs, "; "))
	}
	validateK3s(p, c)
	lan := validateNetwork(p, c)
	validateNodes(p, c, lan)
	validateUSB(p, c)
	validateNodeSelfLabels(p, c)
	validateFirewall(p, c)
	validatePlatform(p, c)
	validateWorkloads(p, c)
	validateDNS(p, c)
	validateProxy(p, c)
	validateMetrics(p, c)
	validateBackups(p, c)
	validateStrings(p, f.lines)
	if ts := c.Preflight.TimeSync; ts != TimeSyncWait && ts != TimeSyncWarn {
		p.add("preflight.timeSync", "%q must be wait or warn", ts)
	}
	if r := c.Preflight.Reboot; r != RebootAuto && r != RebootManual && r != RebootUntilJoined {
		p.add("preflight.reboot", "%q must be auto, manual or untilJoined", r)
	}
	for i, fc := range c.Apply.ForceConflicts {
		if n := strings.Count(fc, "/"); n < 1 || n > 2 || strings.Contains(fc, "//") {
			p.add(fmt.Sprintf("apply.forceConflicts[%d]", i), "%q must be Kind/name or Kind/namespace/name", fc)
		}
	}
	return p.sorted()
}

func validateK3s(p *problems, c *Cluster) {
	k := c.K3s
	if !k3sVersionRe.MatchString(k.Version) {
		p.add("k3s.version", "%q is not a k3s release like v1.33.5+k3s1", k.Version)
	}
	switch d := k.UpgradeTimeout.Duration; {
	case d < time.Minute:
		p.add("k3s.upgradeTimeout", "%s is too short for k3s to start (at least 1m)", d)
	case d > MaxUpgradeTimeout:
		// While the upgraded server is down it cannot renew the restart
		// Lease; past the Lease's 10 minutes another server would take the
		// turn and start the same version before the failure is recorded.
		p.add("k3s.upgradeTimeout", "%s is longer than the restart turn lasts unrenewed (at most %s)", d, MaxUpgradeTimeout)
	}
	validateRelease(p, c)
	validateRegistries(p, c)
	for _, arch := range SortedKeys(k.SHA256) {
		field := "k3s.sha256." + arch
		if !contains(Arches, arch) {
			p.add(field, "unknown arch %q (want one of %s)", arch, strings.Join(Arches, ", "))
		}
		if !sha256Re.MatchString(k.SHA256[arch]) {
			p.add(field, "must be 64 lowercase hex digits")
		}
	}
	if !strings.HasPrefix(k.TokenFile, "/") {
		p.add("k3s.tokenFile", "%q must be an absolute path", k.TokenFile)
	}
	switch {
	case !strings.HasPrefix(k.AgentTokenFile, "/"):
		p.add("k3s.agentTokenFile", "%q must be an absolute path", k.AgentTokenFile)
	case path.Clean(k.AgentTokenFile) == path.Clean(k.TokenFile):
		p.add("k3s.agentTokenFile", "%q is k3s.tokenFile; agents must not hold the server token", k.AgentTokenFile)
	}
	for i, d := range k.Disable {
		if !contains(k3sComponents, d) {
			p.add(fmt.Sprintf("k3s.disable[%d]", i), "unknown k3s component %q (want one of %s)", d, strings.Join(k3sComponents, ", "))
		}
	}
	if !contains([]string{"vxlan", "wireguard-native", "host-gw", "none"}, k.FlannelBackend) {
		p.add("k3s.flannelBackend", "%q must be vxlan, wireguard-native, host-gw or none", k.FlannelBackend)
	}
	if len(strings.Fields(k.EtcdSnapshots.Schedule)) != 5 {
		p.add("k3s.etcdSnapshots.schedule", "%q is not a five-field cron schedule", k.EtcdSnapshots.Schedule)
	}
	if k.EtcdSnapshots.Retention < 1 {
		p.add("k3s.etcdSnapshots.retention", "must be at least 1")
	}
	validateEtcdS3(p, k.EtcdSnapshots.S3)
	if errs := validation.IsDNS1123Subdomain(k.ClusterDomain); len(errs) > 0 {
		p.add("k3s.clusterDomain", "%q: %s", k.ClusterDomain, strings.Join(errs, "; "))
	}
}

// validateNetwork checks the CIDRs and LoadBalancer addresses and returns the
// LAN prefix (invalid when the LAN CIDR is bad).
func validateNetwork(p *problems, c *Cluster) netip.Prefix {
	lan := parsePrefix(p, "network.lanCIDR", c.Network.LANCIDR)
	pods := parsePrefix(p, "k3s.clusterCIDR", c.K3s.ClusterCIDR)
	svcs := parsePrefix(p, "k3s.serviceCIDR", c.K3s.ServiceCIDR)
	named := []struct {
		field string
		p     netip.Prefix
	}{{"network.lanCIDR", lan}, {"k3s.clusterCIDR", pods}, {"k3s.serviceCIDR", svcs}}
	for i := range named {
		for j := i + 1; j < len(named); j++ {
			a, b := named[i], named[j]
			if a.p.IsValid() && b.p.IsValid() && a.p.Overlaps(b.p) {
				p.add(b.field, "%s overlaps %s %s", b.p, a.field, a.p)
			}
		}
	}
	if dns, err := netip.ParseAddr(c.K3s.ClusterDNS); err != nil {
		p.add("k3s.clusterDNS", "%q is not an IP address", c.K3s.ClusterDNS)
	} else if svcs.IsValid() && !svcs.Contains(dns) {
		p.add("k3s.clusterDNS", "%s is outside k3s.serviceCIDR %s", dns, svcs)
	}
	if c.Network.TailscaleInterface != "" && !ifaceRe.MatchString(c.Network.TailscaleInterface) {
		p.add("network.tailscaleInterface", "%q is not an interface name", c.Network.TailscaleInterface)
	}
	if !ifaceRe.MatchString(c.Network.Interface) {
		p.add("network.interface", "%q is not an interface name", c.Network.Interface)
	}
	validateLoadBalancer(p, c, lan)
	return lan
}

var ifaceRe = regexp.MustCompile(`^[a-zA-Z0-9_.:@-]{1,15}$`)

func parsePrefix(p *problems, field, s string) netip.Prefix {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		p.add(field, "%q is not a CIDR like 10.0.0.0/24", s)
		return netip.Prefix{}
	}
	if pfx.Masked() != pfx {
		p.add(field, "%s has host bits set (did you mean %s?)", pfx, pfx.Masked())
	}
	return pfx.Masked()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
