package config

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

func validateFirewall(p *problems, c *Cluster) {
	fw := c.Firewall
	for i, s := range fw.SSHSources {
		validateSource(p, fmt.Sprintf("firewall.sshSources[%d]", i), s)
	}
	if fw.SSHPort < 1 || fw.SSHPort > 65535 {
		p.add("firewall.sshPort", "%d is not a port", fw.SSHPort)
	}
	if fw.IfMissing != "error" && fw.IfMissing != "install" {
		p.add("firewall.ifMissing", "%q must be error or install", fw.IfMissing)
	}
	for i, r := range fw.ExtraRules {
		field := fmt.Sprintf("firewall.extraRules[%d]", i)
		if _, _, err := ParsePortRange(r.Port); err != nil {
			p.add(field+".port", "%v", err)
		}
		if !contains([]string{"tcp", "udp", "any"}, r.Proto) {
			p.add(field+".proto", "%q must be tcp, udp or any", r.Proto)
		}
		validateSource(p, field+".from", r.From)
		if strings.ContainsAny(r.Comment, "'\"\n") {
			p.add(field+".comment", "must not contain quotes or newlines")
		}
	}
}

// ParsePortRange reads "8080" or "8000:8010".
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, ":")
	lo, err1 := strconv.Atoi(a)
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || hi < lo {
		return 0, 0, fmt.Errorf("%q is not a port (1-65535) or a low:high range", s)
	}
	return lo, hi, nil
}

func validateSource(p *problems, field, s string) {
	if _, err := netip.ParsePrefix(s); err == nil {
		return
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return
	}
	p.add(field, "%q is not an IP address or CIDR", s)
}

func validatePlatform(p *problems, c *Cluster) {
	for _, h := range c.Platform.Charts() {
		if !h.IsEnabled() {
			continue
		}
		required := map[string]string{"chart": h.Chart, "version": h.Version, "namespace": h.Namespace}
		if h.ChartFile == "" {
			required["repo"] = h.Repo
		} else if !isCleanAbs(h.ChartFile) {
			p.add(h.Field+".chartFile", "%q must be a clean absolute path", h.ChartFile)
		}
		for name, v := range required {
			if v == "" {
				p.add(h.Field+"."+name, "is required while the component is enabled")
			}
		}
	}
	if !c.Platform.CertManager.IsEnabled() {
		return
	}
	is := c.Platform.CertManager.Issuer
	switch is.Type {
	case IssuerCA:
		if is.CASecretName == "" {
			p.add("platform.certManager.issuer.caSecretName", "a ca issuer needs the Secret holding the CA")
		}
	case IssuerLetsEncrypt:
		if !strings.Contains(is.Email, "@") {
			p.add("platform.certManager.issuer.email", "Let's Encrypt needs a contact email")
		}
	default:
		p.add("platform.certManager.issuer.type", "%q must be ca or letsencrypt", is.Type)
	}
}

func validateWorkloads(p *problems, c *Cluster) {
	carried := labelsNodesCanCarry(c)
	for _, name := range SortedKeys(c.Workloads) {
		w, field := c.Workloads[name], "workloads."+name
		spec, ok := workloadSpecs[name]
		if !ok {
			p.add(field, "unknown workload (known: %s)", strings.Join(KnownWorkloads(), ", "))
			continue
		}
		if !w.IsEnabled() {
			continue
		}
		if w.Image == "" {
			p.add(field+".image", "is required")
		}
		if w.Replicas < 0 {
			p.add(field+".replicas", "must not be negative")
		}
		validateQuantity(p, field+".resources.memory", w.Resources.Memory)
		validateQuantity(p, field+".resources.cpu", w.Resources.CPU)
		validateQuantity(p, field+".storage", w.Storage)
		for i, node := range w.Prefer {
			if _, ok := c.Node(node); !ok {
				p.add(fmt.Sprintf("%s.prefer[%d]", field, i), "no node is named %q", node)
			}
		}
		for _, k := range SortedKeys(w.Require) {
			if !carried[k+"="+w.Require[k]] {
				p.add(field+".require."+k, "no node can ever carry %s=%s (not a static, disk or expected USB label of any node)", k, w.Require[k])
			}
		}
		if spec.Kind == CronJob && len(strings.Fields(w.Schedule)) != 5 {
			p.add(field+".schedule", "%q is not a five-field cron schedule", w.Schedule)
		}
		if name == "restic-backup" && w.SecretName == "" {
			p.add(field+".secretName", "restic needs the Secret with the repository credentials")
		}
	}
}

// labelsNodesCanCarry returns "key=value" for every label some node may get.
func labelsNodesCanCarry(c *Cluster) map[string]bool {
	out := map[string]bool{}
	for _, n := range c.Nodes {
		for k, v := range c.PossibleLabels(n) {
			out[k+"="+v] = true
		}
	}
	return out
}

// isCleanAbs reports whether s is an absolute path with nothing to clean
// (no "..", ".", "//" or trailing "/"), so the path read is the one written.
func isCleanAbs(s string) bool { return strings.HasPrefix(s, "/") && path.Clean(s) == s }
