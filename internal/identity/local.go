package identity

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// LocalFacts reads the hostname and the addresses of the local interfaces
// through netlink.
func LocalFacts() (Facts, error) {
	host, err := os.Hostname()
	if err != nil {
		return Facts{}, fmt.Errorf("reading hostname: %w", err)
	}
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return Facts{}, fmt.Errorf("listing local addresses: %w", err)
	}
	facts := Facts{Hostname: host}
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			facts.Addrs = append(facts.Addrs, ip.Unmap())
		}
	}
	return facts, nil
}
