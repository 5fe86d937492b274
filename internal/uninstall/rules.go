package uninstall

import (
	"strings"
)

// FilterRules drops k3s's chains and rules from an iptables-save dump, as
// k3s-killall.sh's `grep -v KUBE- | grep -v CNI- | grep -iv flannel` does,
// but by chain and target rather than by any match in the line: a UFW rule
// whose comment names flannel (nodeagent's own "nodeagent:flannel-vxlan")
// belongs to ufw, which must find its rules as it wrote them, and
// internal/firewall removes nodeagent's. It returns the dump to restore and
// how many lines it dropped.
func FilterRules(dump string) (kept string, dropped int) {
	var b strings.Builder
	for _, line := range strings.SplitAfter(dump, "\n") {
		if k3sLine(strings.TrimRight(line, "\n")) {
			dropped++
			continue
		}
		b.WriteString(line)
	}
	return b.String(), dropped
}

// k3sLine is a declaration of one of k3s's chains, a rule in one, a rule
// jumping to one, or (outside ufw's chains) a rule that names KUBE-, CNI- or
// flannel, like flannel's "flanneld forward" rules in FORWARD.
func k3sLine(line string) bool {
	if name, ok := strings.CutPrefix(line, ":"); ok {
		name, _, _ = strings.Cut(name, " ")
		return k3sChain(name)
	}
	f := strings.Fields(line)
	if len(f) < 2 || (f[0] != "-A" && f[0] != "-I") {
		return false
	}
	if k3sChain(f[1]) {
		return true
	}
	for i := 2; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g" || f[i] == "--jump" || f[i] == "--goto") && k3sChain(f[i+1]) {
			return true
		}
	}
	if strings.HasPrefix(f[1], "ufw") {
		return false
	}
	return strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") ||
		strings.Contains(strings.ToLower(line), "flannel")
}

// k3sChain names a chain of kube-proxy, kube-router's network policy
// controller (KUBE-), the CNI plugins (CNI-) or flannel.
func k3sChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-") ||
		strings.Contains(strings.ToLower(name), "flannel")
}
