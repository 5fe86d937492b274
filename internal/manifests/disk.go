package manifests

import (
	"path"
	"strconv"

	"github.com/nodeagent/nodeagent/internal/config"
)

// diskPath is dir on the mount point of the disk whose labels satisfy the
// app's HARD requirements: the node that may run the app is the node with
// that disk, so the path exists there.
func (r *renderer) diskPath(a app, dir string) string {
	mount, ok := DiskFor(r.c, a.w.Require)
	if !ok {
		r.fail("workload %s: no disk of any node carries the required labels %v", a.name, a.w.Require)
		return ""
	}
	return path.Join(mount, dir)
}

// DiskFor returns the mount point of the first disk (in node order) whose
// labels include every required label.
func DiskFor(c *config.Cluster, require map[string]string) (string, bool) {
	if len(require) == 0 {
		return "", false
	}
	for _, n := range c.Nodes {
		for _, d := range n.Disks {
			if hasLabels(d.Labels, require) {
				return d.MountPoint, true
			}
		}
	}
	return "", false
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
