package firewall

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseUserRules reads the "### tuple ###" lines of ufw's user.rules or
// user6.rules. These lines are ufw's own machine-readable record of every
// rule (ufw rebuilds the iptables rules from them), with the comment
// hex-encoded, so they are sturdier to read than `ufw status` tables.
func ParseUserRules(data []byte) ([]Rule, error) {
	var out []Rule
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, ok := strings.CutPrefix(sc.Text(), "### tuple ###")
		if !ok {
			continue
		}
		r, err := parseTuple(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// parseTuple reads "action proto dport dst sport src [dapp sapp] ifaces
// [comment=hex]", the format ufw's backend_iptables.py writes.
func parseTuple(line string) (Rule, error) {
	var r Rule
	body, hexComment, hasComment := strings.Cut(line, " comment=")
	if hasComment {
		c, err := hex.DecodeString(strings.TrimSpace(hexComment))
		if err != nil {
			return r, fmt.Errorf("decoding comment %q: %w", hexComment, err)
		}
		r.Comment = string(c)
	}
	f := strings.Fields(body)
	if len(f) != 7 && len(f) != 9 {
		return r, fmt.Errorf("tuple %q has %d fields, want 7 or 9", body, len(f))
	}
	r.Action = f[0]
	if a, ok := strings.CutPrefix(r.Action, "route:"); ok {
		r.Route, r.Action = true, a
	}
	if a, l, ok := strings.Cut(r.Action, "_"); ok {
		r.Action, r.Log = a, l
	}
	r.Proto, r.Port, r.To, r.SPort, r.From = f[1], f[2], anyAddr(f[3]), f[4], anyAddr(f[5])
	if len(f) == 9 {
		r.DApp, r.SApp = unescapeApp(f[6]), unescapeApp(f[7])
	}
	r.Direction, r.InIface, r.OutIface = parseIfaces(f[len(f)-1])
	return r, nil
}

// parseIfaces reads "in", "out", "in_eth0", "out_eth0" or "in_eth0!out_eth1".
func parseIfaces(s string) (dir, in, out string) {
	dir, _, _ = strings.Cut(s, "_")
	for _, part := range strings.Split(s, "!") {
		d, iface, ok := strings.Cut(part, "_")
		switch {
		case !ok:
		case d == "in":
			in = iface
		case d == "out":
			out = iface
		}
	}
	return dir, in, out
}

func anyAddr(s string) string {
	if s == "0.0.0.0/0" || s == "::/0" {
		return Any
	}
	return s
}

func unescapeApp(s string) string {
	if s == "-" {
		return ""
	}
	return strings.ReplaceAll(s, "%20", " ")
}

// mergeRules joins the rules of user.rules and user6.rules: an address-less
// rule is stored in both files and is one rule to ufw's CLI.
func mergeRules(lists ...[]Rule) []Rule {
	seen := map[Rule]bool{}
	var out []Rule
	for _, l := range lists {
		for _, r := range l {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// parseDefaults reads DEFAULT_*_POLICY from /etc/default/ufw, the file
// `ufw default` writes. `ufw status verbose` is no substitute: it prints
// nothing while ufw is inactive and shows the routed policy as "disabled"
// whenever IP forwarding is off, whatever the file says.
func parseDefaults(data []byte) Defaults {
	var d Defaults
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		pol := policyWord(strings.Trim(val, `"' `))
		switch key {
		case "DEFAULT_INPUT_POLICY":
			d.Incoming = pol
		case "DEFAULT_OUTPUT_POLICY":
			d.Outgoing = pol
		case "DEFAULT_FORWARD_POLICY":
			d.Routed = pol
		}
	}
	return d
}

// policyWord maps an iptables target to the word `ufw default` takes.
func policyWord(target string) string {
	switch strings.ToUpper(target) {
	case "ACCEPT":
		return "allow"
	case "DROP":
		return "deny"
	case "REJECT":
		return "reject"
	}
	return strings.ToLower(target)
}

// parseActive reads `ufw status`: "Status: active" or "Status: inactive".
// Under a translated locale the words differ; then an inactive ufw is told
// by its one-line answer (an active one lists its rules). An active ufw with
// no rule at all would be misread as inactive, which costs one harmless
// `ufw --force enable`.
func parseActive(out []byte) bool {
	text := strings.TrimSpace(string(out))
	first, _, _ := strings.Cut(text, "\n")
	switch strings.TrimSpace(first) {
	case "Status: active":
		return true
	case "Status: inactive":
		return false
	}
	return strings.Contains(text, "\n")
}
