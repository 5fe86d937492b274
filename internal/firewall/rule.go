package firewall

import (
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// OwnerTag starts the comment of every rule nodeagent creates; only rules
// whose comment starts with it are ever deleted.
const OwnerTag = "nodeagent:"

// Any is ufw's wildcard for an address or a port.
const Any = "any"

// Rule is one ufw rule as ufw stores it in user.rules: the fields of a
// "### tuple ###" line, with 0.0.0.0/0 and ::/0 both read as Any.
type Rule struct {
	// Route makes it a `ufw route` rule (FORWARD chain) instead of INPUT/OUTPUT.
	Route bool
	// Action is allow, deny, reject or limit.
	Action string
	// Log is "", "log" or "log-all".
	Log string
	// Direction is "in" or "out".
	Direction string
	// InIface and OutIface restrict the rule to interfaces ("" for any).
	InIface, OutIface string
	// Proto is tcp, udp or any.
	Proto string
	// From and To are an address, a CIDR or Any.
	From, To string
	// SPort and Port (destination) are "22", "2379:2380", "80,443" or Any.
	SPort, Port string
	// SApp and DApp are application profile names ("" for none).
	SApp, DApp string
	// Comment is ufw's rule comment; it is not part of the rule's identity.
	Comment string
}

// Owned reports whether nodeagent created the rule.
func (r Rule) Owned() bool { return strings.HasPrefix(r.Comment, OwnerTag) }

// Key is the rule's identity for ufw: everything but the comment. ufw
// itself treats two rules differing only in comment as one rule (adding the
// second rewrites the first's comment), so the diff must compare keys.
func (r Rule) Key() Rule {
	r.Comment = ""
	return r
}

// SpecArgs renders the rule as ufw command arguments, e.g. ["allow", "proto", "tcp", "from", "10.0.0.12", "to",
// "any", "port", "2379:2380"]; `ufw route` rules start with "route".
func (r Rule) SpecArgs() []string {
	if r.Route {
		return append([]string{"route"}, r.body()...)
	}
	return r.body()
}

// body is the rule spec after the optional "route" keyword.
func (r Rule) body() []string {
	a := []string{r.Action}
	a = append(a, r.ifaceArgs()...)
	if r.Log != "" {
		a = append(a, r.Log)
	}
	if r.Proto != "" && r.Proto != Any {
		a = append(a, "proto", r.Proto)
	}
	a = append(a, "from", orAny(r.From))
	a = appendPort(a, r.SPort, r.SApp)
	a = append(a, "to", orAny(r.To))
	return appendPort(a, r.Port, r.DApp)
}

// AddArgs is the full `ufw` argv (without "ufw") that creates the rule.
func (r Rule) AddArgs() []string {
	a := r.SpecArgs()
	if r.Comment != "" {
		a = append(a, "comment", r.Comment)
	}
	return a
}

// DeleteArgs is the `ufw` argv that deletes the rule. Deleting by spec
// rather than by number cannot hit the wrong rule after a renumbering, and
// removes the IPv4 and IPv6 halves of an address-less rule together.
func (r Rule) DeleteArgs() []string {
	a := []string{"delete"}
	if r.Route {
		a = []string{"route", "delete"}
	}
	return append(a, r.body()...)
}

// String is the rule as a ufw command line, for logs and plans.
func (r Rule) String() string { return host.QuoteArgv("ufw", r.AddArgs()) }

// ifaceArgs renders direction and interfaces: "in on X out on Y" for route
// rules, "in on X" / "out on X" / "out" for the others.
func (r Rule) ifaceArgs() []string {
	var a []string
	if r.Route {
		if r.InIface != "" {
			a = append(a, "in", "on", r.InIface)
		}
		if r.OutIface != "" {
			a = append(a, "out", "on", r.OutIface)
		}
		return a
	}
	iface := r.InIface + r.OutIface
	if r.Direction == "out" || iface != "" {
		a = append(a, orDefault(r.Direction, "in"))
	}
	if iface != "" {
		a = append(a, "on", iface)
	}
	return a
}

func appendPort(a []string, port, app string) []string {
	switch {
	case app != "":
		return append(a, "app", app)
	case port != "" && port != Any:
		return append(a, "port", port)
	}
	return a
}

func orAny(s string) string { return orDefault(s, Any) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
