// Package identity decides which node of the cluster file this machine is:
// the --node flag, else the hostname, else an address on a local interface.
package identity

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// ErrNotANode means the machine matches no node of the cluster file.
var ErrNotANode = errors.New("this machine is no node of the cluster")

// Facts are what the machine tells about itself.
type Facts struct {
	Hostname string
	Addrs    []netip.Addr
}

// Resolve returns the node that flagNode names, or the one whose name is the
// hostname, or the one whose address is local. The error lists what was tried.
func Resolve(c *config.Cluster, flagNode string, facts Facts) (config.Node, error) {
	if flagNode != "" {
		if n, ok := c.Node(flagNode); ok {
			return n, nil
		}
		return config.Node{}, fmt.Errorf("--node %q: no such node in the cluster file (nodes: %s)", flagNode, nodeNames(c))
	}
	short, _, _ := strings.Cut(facts.Hostname, ".")
	if n, ok := c.Node(short); ok && short != "" {
		return n, nil
	}
	for _, n := range c.Nodes {
		want, err := netip.ParseAddr(n.Address)
		if err != nil {
			continue
		}
		for _, a := range facts.Addrs {
			if a.Unmap() == want {
				return n, nil
			}
		}
	}
	return config.Node{}, fmt.Errorf("%w: tried --node (not given), hostname %q, local addresses [%s]; nodes are %s: pass --node NAME",
		ErrNotANode, facts.Hostname, joinAddrs(facts.Addrs), nodeNames(c))
}

func nodeNames(c *config.Cluster) string {
	var parts []string
	for _, n := range c.Nodes {
		parts = append(parts, n.Name+" ("+n.Address+")")
	}
	return strings.Join(parts, ", ")
}

func joinAddrs(addrs []netip.Addr) string {
	parts := make([]string, 0, len(addrs))
	for _, a := range addrs {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}
