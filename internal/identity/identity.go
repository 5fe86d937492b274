// Package identity decides which node of the cluster file this machine is:
// the --node flag or the node file, else the hostname (only when that
// node's address is on a local interface), else an address on a local
// interface. It also waits,
// through netlink, for a late address (DHCP) to appear.
package identity

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
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

// MismatchError means the hostname names a node whose address is on no
// local interface: a Pi that happens to carry a guide's hostname on another
// LAN is not that node (issue 16). It wraps ErrNotANode.
type MismatchError struct {
	Hostname string
	Node     config.Node
	Local    []netip.Addr
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("hostname %q names node %s, but its address %s is on no local interface (local addresses [%s]): "+
		"correct nodes[%s].address in the cluster file, give this machine that address, or name its node in "+NodeFile,
		e.Hostname, e.Node.Name, e.Node.Address, joinAddrs(e.Local), e.Node.Name)
}

// Unwrap makes a mismatch count as "no node of the cluster".
func (e *MismatchError) Unwrap() error { return ErrNotANode }

// Address is the node's configured address, the one to wait for.
func (e *MismatchError) Address() netip.Addr {
	a, _ := netip.ParseAddr(e.Node.Address)
	return a
}

// Resolve returns the node that flagNode names, or the one whose name is the
// hostname if its address is local, or the one whose address is local. The
// error lists what was tried. --node is taken as given (the explicit way,
// also for planning another node); IsLocal tells whether to warn.
func Resolve(c *config.Cluster, flagNode string, facts Facts) (config.Node, error) {
	if flagNode != "" {
		if n, ok := c.Node(flagNode); ok {
			return n, nil
		}
		return config.Node{}, fmt.Errorf("node %q: no such node in the cluster file (nodes: %s)", flagNode, nodeNames(c))
	}
	short, _, _ := strings.Cut(facts.Hostname, ".")
	if n, ok := c.Node(short); ok && short != "" {
		if !IsLocal(n, facts) {
			return config.Node{}, &MismatchError{Hostname: facts.Hostname, Node: n, Local: facts.Addrs}
		}
		return n, nil
	}
	for _, n := range c.Nodes {
		if IsLocal(n, facts) {
			return n, nil
		}
	}
	return config.Node{}, fmt.Errorf("%w: tried --node and %s (neither given), hostname %q, local addresses [%s]; nodes are %s: write this machine's node name to %s",
		ErrNotANode, NodeFile, facts.Hostname, joinAddrs(facts.Addrs), nodeNames(c), NodeFile)
}

// IsLocal reports whether n's configured address is on a local interface.
func IsLocal(n config.Node, facts Facts) bool {
	want, err := netip.ParseAddr(n.Address)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(facts.Addrs, func(a netip.Addr) bool { return a.Unmap() == want.Unmap() })
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
