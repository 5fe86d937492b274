package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrSSHLockout means a firewall change would shut the owner out of SSH:
// an open session's source, or the network this node's default route
// answers on, would no longer be let in. Apply refuses it before any ufw
// command runs.
var ErrSSHLockout = errors.New("refusing a ufw change that would lock SSH out")

// Session is an established TCP connection to this node's SSH port.
type Session struct {
	Local, Peer netip.AddrPort
	// Iface is the interface the peer is reached through.
	Iface string
}

// Uplink is where this node's default route answers from: the address,
// the prefix of that address on its interface, and the interface.
type Uplink struct {
	Addr   netip.Addr
	Prefix netip.Prefix
	Iface  string
}

// SSHView is what the guard knows of the node's network before a change.
type SSHView struct {
	Sessions []Session
	// Uplink is nil without a default route.
	Uplink *Uplink
	// TailscaleUp is whether network.tailscaleInterface exists with an
	// address, so that its SSH rule is a way in now.
	TailscaleUp bool
}

// LockoutError names what a refused change would shut out and the fix.
type LockoutError struct {
	Cut     []Session
	Uplink  *Uplink // set when nobody on the uplink's network could connect
	Sources []string
}

func (e *LockoutError) Error() string {
	var parts []string
	var fix []string
	for _, s := range e.Cut {
		parts = append(parts, fmt.Sprintf("it would shut out the open SSH session from %s (to %s): new connections from %s would be refused",
			s.Peer, s.Local, s.Peer.Addr()))
		fix = append(fix, netip.PrefixFrom(s.Peer.Addr(), s.Peer.Addr().BitLen()).String())
	}
	if u := e.Uplink; u != nil {
		parts = append(parts, fmt.Sprintf("nobody on %s, where this node's default route answers from (%s on %s), could open an SSH session",
			u.Prefix.Masked(), u.Addr, u.Iface))
		fix = append(fix, u.Prefix.Masked().String())
	}
	return fmt.Sprintf("%v: %s; firewall.sshSources is [%s]: add %s (or the network you connect from) to firewall.sshSources in the cluster file",
		ErrSSHLockout, strings.Join(parts, "; "), strings.Join(e.Sources, " "), strings.Join(fix, " and "))
}

func (e *LockoutError) Unwrap() error { return ErrSSHLockout }

// CheckSSH is the guard's pure decision: nil when the change from live to
// desired leaves SSH alone (ufw stays active, same incoming default, no SSH
// rule added or removed), or when after it every open session's source is
// still let in and someone on the uplink's network (or the Tailscale
// interface, when up) can connect. after is evaluated as ufw does: the
// first matching rule decides, then the incoming default (deny).
func CheckSSH(live State, desired []Rule, defaults Defaults, port int, sources []string, v SSHView) error {
	if !TouchesSSH(live, desired, defaults, port) {
		return nil
	}
	add, remove := Diff(desired, live.Rules)
	after := rulesAfter(live.Rules, add, remove)
	e := &LockoutError{Sources: sources}
	for _, s := range v.Sessions {
		if s.Peer.Addr().IsLoopback() { // ufw's before.rules accept lo
			continue
		}
		if !letIn(after, s, port, defaults.Incoming) {
			e.Cut = append(e.Cut, s)
		}
	}
	if u := v.Uplink; u != nil && !uplinkAllowed(after, *u, port) && !(v.TailscaleUp && anySSHOnIface(after, port)) {
		e.Uplink = u
	}
	if len(e.Cut) == 0 && e.Uplink == nil {
		return nil
	}
	return e
}

// TouchesSSH reports whether taking live to desired could change who may
// open an SSH session: ufw gets enabled, the incoming default changes, or a
// rule covering the SSH port comes or goes.
func TouchesSSH(live State, desired []Rule, defaults Defaults, port int) bool {
	add, remove := Diff(desired, live.Rules)
	return !live.Active || live.Defaults.Incoming != defaults.Incoming || anySSH(add, port) || anySSH(remove, port)
}

// rulesAfter is ufw's rule list once the change is applied: the live rules
// without the removed ones, then the added ones (`ufw allow` appends).
func rulesAfter(live, add, remove []Rule) []Rule {
	gone := map[Rule]bool{}
	for _, r := range remove {
		gone[r.Key()] = true
	}
	var out []Rule
	for _, r := range live {
		if !gone[r.Key()] {
			out = append(out, r)
		}
	}
	return append(out, add...)
}

// letIn reports whether a new connection like s would be accepted.
func letIn(rules []Rule, s Session, port int, incoming string) bool {
	for _, r := range rules {
		if !coversSSH(r, port) || (r.InIface != "" && r.InIface != s.Iface) ||
			!addrIn(s.Peer.Addr(), r.From) || !addrIn(s.Local.Addr(), r.To) || !portIn(int(s.Peer.Port()), r.SPort) {
			continue
		}
		return r.Action == "allow" || r.Action == "limit"
	}
	return incoming == "allow"
}

// uplinkAllowed reports whether some allow rule lets SSH in from a source
// overlapping the uplink's network: a management host on the LAN counts.
func uplinkAllowed(rules []Rule, u Uplink, port int) bool {
	for _, r := range rules {
		if !coversSSH(r, port) || (r.Action != "allow" && r.Action != "limit") || (r.InIface != "" && r.InIface != u.Iface) {
			continue
		}
		if from := prefixOf(r.From); from.IsValid() && from.Overlaps(u.Prefix.Masked()) || r.From == Any {
			return true
		}
	}
	return false
}

func anySSHOnIface(rules []Rule, port int) bool {
	for _, r := range rules {
		if coversSSH(r, port) && r.InIface != "" && (r.Action == "allow" || r.Action == "limit") {
			return true
		}
	}
	return false
}

func anySSH(rules []Rule, port int) bool {
	for _, r := range rules {
		if coversSSH(r, port) {
			return true
		}
	}
	return false
}

// coversSSH reports whether r is an incoming (not routed) rule for TCP on port.
func coversSSH(r Rule, port int) bool {
	return !r.Route && r.Direction != "out" && (r.Proto == "tcp" || r.Proto == Any || r.Proto == "") && portIn(port, r.Port)
}

// portIn reports whether port is in a ufw port spec: any, 22, 20:30, 22,80.
func portIn(port int, spec string) bool {
	if spec == "" || spec == Any {
		return true
	}
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= port && port <= h {
			return true
		}
	}
	return false
}

// addrIn reports whether a lies in a ufw address spec (any, address, CIDR).
func addrIn(a netip.Addr, spec string) bool {
	if spec == "" || spec == Any {
		return true
	}
	p := prefixOf(spec)
	return p.IsValid() && p.Contains(a.Unmap())
}

func prefixOf(spec string) netip.Prefix {
	if a, err := netip.ParseAddr(spec); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	p, _ := netip.ParsePrefix(spec)
	return p
}
