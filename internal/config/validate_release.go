package config

import (
	"net/url"
	"strings"
)

// validateRelease checks where the k3s binary comes from and that it can be
// verified over a channel an attacker on the LAN cannot rewrite:
//   - https://: the release's checksum file comes over TLS;
//   - a local directory (absolute path or file://): the air-gap install,
//     binary and checksum file put on the node by its administrator;
//   - http://: the checksum file would come over the same unauthenticated
//     channel as the binary, so anyone on the path could swap both; only a
//     sha256 pinned here, for every arch of the nodes, verifies it.
func validateRelease(p *problems, c *Cluster) {
	base := c.K3s.ReleaseBase
	switch {
	case strings.HasPrefix(base, "/"), strings.HasPrefix(base, "file:///"):
		return
	case strings.HasPrefix(base, "https://"), strings.HasPrefix(base, "http://"):
		if u, err := url.Parse(base); err != nil || u.Host == "" {
			p.add("k3s.releaseBase", "%q is not a URL with a host", base)
			return
		}
	default:
		p.add("k3s.releaseBase", "%q must be an https:// URL, an http:// URL with pinned k3s.sha256, or an absolute directory", base)
		return
	}
	if strings.HasPrefix(base, "https://") {
		return
	}
	var unpinned []string
	for _, arch := range nodeArches(c) {
		if c.K3s.SHA256[arch] == "" {
			unpinned = append(unpinned, arch)
		}
	}
	if len(unpinned) > 0 {
		p.add("k3s.releaseBase", "%q is plain http: pin k3s.sha256 for %s (its checksum file would come over the same unauthenticated channel)",
			base, strings.Join(unpinned, ", "))
	}
}

// nodeArches lists the arches of the cluster's nodes in Arches order.
func nodeArches(c *Cluster) []string {
	var out []string
	for _, arch := range Arches {
		for _, n := range c.Nodes {
			if n.Arch == arch {
				out = append(out, arch)
				break
			}
		}
	}
	return out
}
