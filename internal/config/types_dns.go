package config

// DNS is the homelab's DNS as Pi-hole serves it: every setting here is
// rendered into one ConfigMap that all pihole replicas read, so they answer
// alike.
type DNS struct {
	// LocalDomain is the domain of the local records (default "home", the
	// architecture's *.home); Pi-hole never forwards it upstream.
	LocalDomain string `yaml:"localDomain" json:"localDomain"`
	// Upstreams are the resolvers Pi-hole forwards to: IP addresses,
	// optionally with #port.
	Upstreams []string `yaml:"upstreams" json:"upstreams"`
	// Records are extra local records, name → IPv4 address. A name without
	// a dot is under LocalDomain.
	Records map[string]string `yaml:"records" json:"records,omitempty"`
	// Names overrides the record name of an exposed workload (default: the
	// workload name without a "-server" suffix), under the same rule.
	Names map[string]string `yaml:"names" json:"names,omitempty"`
	// Settings are further pihole.toml settings ("dns.dnssec": "true"),
	// rendered as FTLCONF_ variables; Pi-hole then shows them read-only.
	Settings map[string]string `yaml:"settings" json:"settings,omitempty"`
}

// Defaults of the dns section.
const DefaultLocalDomain = "home"

// DefaultUpstreams are two resolvers of different operators (Cloudflare,
// Quad9), so one operator's outage leaves the LAN resolving.
var DefaultUpstreams = []string{"1.1.1.1", "9.9.9.9"}
