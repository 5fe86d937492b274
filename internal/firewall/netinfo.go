package firewall

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Network reads what the SSH guard needs of the node's network.
type Network interface {
	// SSHView returns the established sessions to port, the uplink and
	// whether the Tailscale interface (tailscale; "" for none) is up.
	SSHView(port int, tailscale string) (SSHView, error)
}

// netlinkNetwork reads sessions by sock_diag (what ss(8) uses) and routes
// and addresses by rtnetlink, in the namespace of its handle.
type netlinkNetwork struct{ h *netlink.Handle }

// NewNetwork reads the network of h's namespace; a zero Handle reads the
// namespace of the calling thread.
func NewNetwork(h *netlink.Handle) Network { return netlinkNetwork{h: h} }

// tcpEstablished is TCP_ESTABLISHED of the kernel's tcp_states.h.
const tcpEstablished = 1

func (n netlinkNetwork) SSHView(port int, tailscale string) (SSHView, error) {
	var v SSHView
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := n.h.SocketDiagTCP(fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, fmt.Errorf("listing TCP connections: %w", err)
		}
		for _, s := range socks {
			if s.State != tcpEstablished || int(s.ID.SourcePort) != port {
				continue
			}
			local, _ := netip.AddrFromSlice(s.ID.Source)
			peer, _ := netip.AddrFromSlice(s.ID.Destination)
			v.Sessions = append(v.Sessions, Session{
				Local: netip.AddrPortFrom(local.Unmap(), s.ID.SourcePort),
				Peer:  netip.AddrPortFrom(peer.Unmap(), s.ID.DestinationPort),
				Iface: n.ifaceTo(peer.Unmap()),
			})
		}
	}
	u, err := n.uplink()
	if err != nil {
		return v, err
	}
	v.Uplink = u
	if tailscale != "" {
		if l, err := n.h.LinkByName(tailscale); err == nil {
			addrs, _ := n.h.AddrList(l, netlink.FAMILY_ALL)
			v.TailscaleUp = len(addrs) > 0
		}
	}
	return v, nil
}

// ifaceTo is the interface the route to a goes out of ("" if unknown).
func (n netlinkNetwork) ifaceTo(a netip.Addr) string {
	rs, err := n.h.RouteGet(net.IP(a.AsSlice()))
	if err != nil || len(rs) == 0 {
		return ""
	}
	return n.linkName(rs[0].LinkIndex)
}

func (n netlinkNetwork) linkName(index int) string {
	l, err := n.h.LinkByIndex(index)
	if err != nil {
		return ""
	}
	return l.Attrs().Name
}

// uplink finds the default route of the main table (IPv4 first) and the
// address it answers from, as the kernel picks it for the gateway.
func (n netlinkNetwork) uplink() (*Uplink, error) {
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := n.h.RouteList(nil, fam)
		if err != nil {
			return nil, fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst != nil && !isDefault(r.Dst) {
				continue
			}
			src, index := r.Src, r.LinkIndex
			if src == nil && r.Gw != nil {
				if got, err := n.h.RouteGet(r.Gw); err == nil && len(got) > 0 {
					src, index = got[0].Src, got[0].LinkIndex
				}
			}
			addr, ok := netip.AddrFromSlice(src)
			if !ok {
				continue
			}
			return &Uplink{Addr: addr.Unmap(), Prefix: n.prefixOf(index, addr.Unmap()), Iface: n.linkName(index)}, nil
		}
	}
	return nil, nil
}

// prefixOf is a's prefix as configured on the link (a/32 if not found).
func (n netlinkNetwork) prefixOf(index int, a netip.Addr) netip.Prefix {
	if l, err := n.h.LinkByIndex(index); err == nil {
		addrs, _ := n.h.AddrList(l, netlink.FAMILY_ALL)
		for _, la := range addrs {
			if ip, ok := netip.AddrFromSlice(la.IP); ok && ip.Unmap() == a {
				ones, _ := la.Mask.Size()
				return netip.PrefixFrom(a, ones)
			}
		}
	}
	return netip.PrefixFrom(a, a.BitLen())
}

func isDefault(dst *net.IPNet) bool {
	ones, _ := dst.Mask.Size()
	return ones == 0
}
