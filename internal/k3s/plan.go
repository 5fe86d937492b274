package k3s

import (
	"fmt"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/release"
)

// Plan describes what Ensure does on node n, from the cluster file alone: the
// join wait, the download and its checksum source, config.yaml (token
// redacted) and the unit. It is what `nodeagent plan` shows.
func Plan(c *config.Cluster, n config.Node) (plan.Step, error) {
	rel, err := release.Resolve(c.K3s, n.Arch)
	if err != nil {
		return plan.Step{}, err
	}
	cfg, err := RenderConfig(c, n, plan.Redacted)
	if err != nil {
		return plan.Step{}, err
	}
	unit := UnitName(n.Role)
	step := plan.Step{
		Name:    "k3s",
		Summary: fmt.Sprintf("k3s %s %s on %s", c.K3s.Version, n.Role, n.Name),
		Actions: []plan.Action{
			{Description: fmt.Sprintf("install %s from %s, verified against %s (skipped when the installed binary matches)",
				release.BinaryPath, rel.BinaryLoc, checksumSource(rel))},
			{Description: "write k3s config", File: &plan.File{Path: ConfigPath, Mode: "0600", Content: string(cfg)}},
			{Description: "install unit " + unit, File: &plan.File{Path: "/etc/systemd/system/" + unit, Mode: "0644", Content: string(UnitFile(n.Role))}},
			{Description: "enable and start " + unit + "; restart it when the binary, config or unit changed",
				Commands: []string{"systemctl enable " + unit, "systemctl restart " + unit}},
		},
	}
	if n.Role == config.RoleServer && len(c.Servers()) > 1 {
		step.Notes = append(step.Notes, "once this server is an etcd member, a restart waits its turn: the other voters healthy, no other server restarting (Lease kube-system/nodeagent-k3s-restart)")
	}
	if rel.Local {
		step.Notes = append(step.Notes, fmt.Sprintf("air-gap images: %s is installed to %s when present", rel.ImagesLoc, release.ImagesDir))
	}
	if pred, ok := c.JoinPredecessor(n); ok {
		step.Notes = append(step.Notes, fmt.Sprintf("before starting, wait up to %s for %s (https://%s:6443/ping) so servers join one at a time",
			c.K3s.JoinTimeout.Duration, pred.Name, pred.Address))
	} else {
		step.Notes = append(step.Notes, "first server: initialises the embedded etcd cluster (cluster-init)")
	}
	return step, nil
}

func checksumSource(r release.Assets) string {
	if r.Pinned != "" {
		return "the pinned sha256 " + r.Pinned + " (k3s.sha256." + r.Arch + ")"
	}
	return r.ChecksumLoc
}
