package config

import (
	"path"
	"strings"
)

// validateBackups checks that the backup directory is on a data disk of a
// server: a directory on the SD card would die with it, and only servers
// can read what is backed up (etcd snapshots, the sealed-secrets keys).
func validateBackups(p *problems, c *Cluster) {
	b := c.Backups
	if !b.Enabled() {
		return
	}
	node, found := c.Node(b.Node)
	switch {
	case b.Node == "":
		p.add("backups.node", "names no node; the backup directory is on a server's data disk")
		return
	case !found:
		p.add("backups.node", "%q is not a node of this file", b.Node)
		return
	case node.Role != RoleServer:
		p.add("backups.node", "%q is an agent; backups need a server (it reads etcd and the sealed-secrets keys)", b.Node)
		return
	}
	if !path.IsAbs(b.Dir) || path.Clean(b.Dir) != b.Dir {
		p.add("backups.dir", "%q must be a clean absolute path", b.Dir)
		return
	}
	if _, ok := node.DiskHolding(b.Dir); !ok {
		var mps []string
		for _, d := range node.Disks {
			mps = append(mps, d.MountPoint)
		}
		if len(mps) == 0 {
			p.add("backups.dir", "%s: node %q has no disks; the backup directory must be on a data disk, not the SD card", b.Dir, b.Node)
			return
		}
		p.add("backups.dir", "%s is not under a disk of node %q (%s); the backup directory must be on a data disk, not the SD card",
			b.Dir, b.Node, strings.Join(mps, ", "))
	}
}

// DiskHolding returns the disk whose mount point holds dir (strictly below
// it: the mount point itself is the disk's root, which belongs to the user).
func (n Node) DiskHolding(dir string) (Disk, bool) {
	for _, d := range n.Disks {
		if d.MountPoint != "" && strings.HasPrefix(dir, strings.TrimSuffix(d.MountPoint, "/")+"/") {
			return d, true
		}
	}
	return Disk{}, false
}
