package config

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

func validateNodes(p *problems, c *Cluster, lan netip.Prefix) {
	if len(c.Nodes) == 0 {
		p.add("nodes", "the cluster needs at least one node")
		return
	}
	names, addrs := map[string]int{}, map[netip.Addr]int{}
	for i, n := range c.Nodes {
		field := fmt.Sprintf("nodes[%d]", i)
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			p.add(field+".name", "%q: %s", n.Name, strings.Join(errs, "; "))
		} else if j, dup := names[n.Name]; dup {
			p.add(field+".name", "%q is already the name of nodes[%d]", n.Name, j)
		}
		names[n.Name] = i
		if a, err := netip.ParseAddr(n.Address); err != nil {
			p.add(field+".address", "%q is not an IP address", n.Address)
		} else {
			if j, dup := addrs[a]; dup {
				p.add(field+".address", "%s is already the address of nodes[%d]", a, j)
			}
			addrs[a] = i
			if lan.IsValid() && !lan.Contains(a) {
				p.add(field+".address", "%s is outside network.lanCIDR %s", a, lan)
			}
		}
		if n.Role != RoleServer && n.Role != RoleAgent {
			p.add(field+".role", "%q must be server or agent", n.Role)
		}
		if !contains(Arches, n.Arch) {
			p.add(field+".arch", "%q must be one of %s", n.Arch, strings.Join(Arches, ", "))
		}
		validateQuantity(p, field+".capacity.memory", n.Capacity.Memory)
		validateQuantity(p, field+".capacity.cpu", n.Capacity.CPU)
		validateLabels(p, field+".labels", n.Labels)
		for j, t := range n.Taints {
			validateTaint(p, fmt.Sprintf("%s.taints[%d]", field, j), t)
		}
		validateDisks(p, field, n.Disks)
	}
	if s := len(c.Servers()); s == 0 || s%2 == 0 {
		p.add("nodes", "%d servers: embedded etcd needs an odd number of servers (1, 3, 5) to keep quorum", s)
	}
}

func validateQuantity(p *problems, field, s string) {
	if s == "" {
		return
	}
	if q, err := resource.ParseQuantity(s); err != nil || q.Sign() <= 0 {
		p.add(field, "%q is not a positive quantity like 4Gi or 500m", s)
	}
}

func validateLabels(p *problems, field string, labels map[string]string) {
	for _, k := range SortedKeys(labels) {
		if _, ctrl := controlChar(k, false); ctrl {
			continue // validateStrings names it; the key would garble the field
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			p.add(field+"."+k, "bad label key: %s", strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			p.add(field+"."+k, "bad label value %q: %s", labels[k], strings.Join(errs, "; "))
		}
	}
}

func validateTaint(p *problems, field, t string) {
	kv, effect, ok := strings.Cut(t, ":")
	key, _, _ := strings.Cut(kv, "=")
	if !ok || !contains([]string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, effect) || len(validation.IsQualifiedName(key)) > 0 {
		p.add(field, "%q is not a taint like key=value:NoSchedule", t)
	}
}

func validateDisks(p *problems, nodeField string, disks []Disk) {
	mounts := map[string]int{}
	for i, d := range disks {
		field := fmt.Sprintf("%s.disks[%d]", nodeField, i)
		switch {
		case !path.IsAbs(d.MountPoint):
			p.add(field+".mountPoint", "%q must be an absolute path", d.MountPoint)
		case path.Clean(d.MountPoint) != d.MountPoint || d.MountPoint == "/":
			p.add(field+".mountPoint", "%q must be a clean path below /", d.MountPoint)
		default:
			validateMountPoint(p, field+".mountPoint", d.MountPoint)
		}
		validateMountOptions(p, field, d.Options)
		if j, dup := mounts[d.MountPoint]; dup {
			p.add(field+".mountPoint", "%q is already the mount point of disks[%d]", d.MountPoint, j)
		}
		mounts[d.MountPoint] = i
		if d.Selector.IsZero() {
			p.add(field+".selector", "set at least one of uuid, label, partuuid, serial, model")
		}
		if !contains([]string{"ext4", "xfs", "btrfs", "ext3", "vfat", "exfat"}, d.FSType) {
			p.add(field+".fsType", "%q is not a supported filesystem", d.FSType)
		}
		if d.Format != FormatNever && d.Format != FormatIfBlank {
			p.add(field+".format", "%q must be never or if-blank", d.Format)
		}
		validateLabels(p, field+".labels", d.Labels)
		dirs := map[string]bool{}
		for j, dir := range d.Directories {
			df := fmt.Sprintf("%s.directories[%d]", field, j)
			if path.IsAbs(dir.Path) || path.Clean(dir.Path) != dir.Path || strings.HasPrefix(dir.Path, "..") || dir.Path == "." {
				p.add(df+".path", "%q must be a clean relative path inside the mount point", dir.Path)
			}
			if dirs[dir.Path] {
				p.add(df+".path", "%q is listed twice", dir.Path)
			}
			dirs[dir.Path] = true
			if m, err := strconv.ParseUint(dir.Mode, 8, 32); err != nil || m > 0o7777 {
				p.add(df+".mode", "%q is not an octal mode like 0750", dir.Mode)
			}
			if dir.Owner < 0 || dir.Group < 0 {
				p.add(df, "owner and group must be numeric ids ≥ 0")
			}
		}
	}
}

func validateUSB(p *problems, c *Cluster) {
	names := map[string]bool{}
	for i, r := range c.USB.Rules {
		field := fmt.Sprintf("usb.rules[%d]", i)
		if errs := validation.IsDNS1123Label(r.Name); len(errs) > 0 {
			p.add(field+".name", "%q: %s", r.Name, strings.Join(errs, "; "))
		}
		if names[r.Name] {
			p.add(field+".name", "%q is listed twice", r.Name)
		}
		names[r.Name] = true
		if len(r.Match) == 0 {
			p.add(field+".match", "a rule needs at least one device to match")
		}
		if len(r.Labels) == 0 {
			p.add(field+".labels", "a rule needs at least one label to set")
		}
		validateLabels(p, field+".labels", r.Labels)
		for j, m := range r.Match {
			mf := fmt.Sprintf("%s.match[%d]", field, j)
			if !hexIDRe.MatchString(m.VendorID) {
				p.add(mf+".vendorID", "%q is not a 4-digit hex USB id like 10c4", m.VendorID)
			}
			if !hexIDRe.MatchString(m.ProductID) {
				p.add(mf+".productID", "%q is not a 4-digit hex USB id like ea60", m.ProductID)
			}
			for name, glob := range map[string]string{"manufacturer": m.Manufacturer, "product": m.Product, "serial": m.Serial} {
				if _, err := path.Match(glob, ""); err != nil {
					p.add(mf+"."+name, "%q is not a valid glob", glob)
				}
			}
		}
	}
	rules := map[string]bool{}
	for _, r := range c.USBRules() {
		rules[r.Name] = true
	}
	for i, n := range c.Nodes {
		for j, name := range n.USB {
			if !rules[name] {
				p.add(fmt.Sprintf("nodes[%d].usb[%d]", i, j), "no USB rule is named %q", name)
			}
		}
	}
}
