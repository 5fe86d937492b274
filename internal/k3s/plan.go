package k3s

import (
	"fmt"
	"slices"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/release"
)

// Plan describes what Ensure does on node n, from the cluster file alone: the
// join decision, the download and its checksum source, config.yaml (token
// redacted, the join decided at join time) and the unit. It is what
// `nodeagent plan` shows.
func Plan(c *config.Cluster, n config.Node) (plan.Step, error) {
	return planJoin(c, n, Join{Undecided: true})
}

func planJoin(c *config.Cluster, n config.Node, j Join) (plan.Step, error) {
	rel, err := release.Resolve(c.K3s, n.Arch)
	if err != nil {
		return plan.Step{}, err
	}
	cfg, err := RenderConfig(c, n, RedactedTokens, j)
	if err != nil {
		return plan.Step{}, err
	}
	regs, err := RenderRegistries(c)
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
			{Description: "enable and start " + unit + "; restart it when the binary, config, registries or unit changed",
				Commands: []string{"systemctl enable " + unit, "systemctl restart " + unit}},
		},
	}
	if regs != nil {
		// Before the unit and the restart, which PlanLive finds last.
		a := plan.Action{Description: "write k3s registry mirrors", File: &plan.File{Path: RegistriesPath, Mode: "0600", Content: string(regs)}}
		step.Actions = slices.Insert(step.Actions, 2, a)
	}
	if n.Role == config.RoleServer && len(c.Servers()) > 1 {
		step.Notes = append(step.Notes, "once this server is an etcd member, a restart waits its turn: the other voters healthy, no other server restarting (Lease kube-system/nodeagent-k3s-restart); the new binary, config and unit are staged first and put in place only inside the turn")
		step.Notes = append(step.Notes, fmt.Sprintf("an upgrade to a new k3s.version keeps the replaced binary as %s and must come back within k3s.upgradeTimeout (%s: etcd member healthy, Node reporting the version); otherwise the previous binary is put back and the rollout stops for every server; a downgrade or a jump of more than one minor version is refused",
			release.PreviousPath, c.K3s.UpgradeTimeout.Duration))
	}
	if rel.Local {
		step.Notes = append(step.Notes, fmt.Sprintf("air-gap images: %s is installed to %s when present", rel.ImagesLoc, release.ImagesDir))
	}
	if j.Undecided {
		step.Notes = append(step.Notes, joinNote(c, n))
	}
	return step, nil
}

// joinNote says how the join is decided before k3s first starts.
func joinNote(c *config.Cluster, n config.Node) string {
	first, _ := c.FirstServer()
	ask := fmt.Sprintf("decided at join (up to %s): ask every other configured server's /cacerts; server: the first one that has the cluster (its CA matching the one a pinned token names)", c.K3s.JoinTimeout.Duration)
	switch {
	case n.Role != config.RoleServer:
		return ask + "; waits while none has"
	case first.Name == n.Name:
		return ask + "; cluster-init if no configured server has a cluster, the token pins no CA and this node never recorded one (a server that does not answer, down or with no k3s listening yet, is waited for " + DefaultInitGrace.String() + ")"
	}
	return ask + "; waits while none has (only " + first.Name + " creates the cluster)"
}

func checksumSource(r release.Assets) string {
	if r.Pinned != "" {
		return "the pinned sha256 " + r.Pinned + " (k3s.sha256." + r.Arch + ")"
	}
	return r.ChecksumLoc
}
