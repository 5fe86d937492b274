package agent

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// PlanOptions tune the plan output.
type PlanOptions struct {
	// ShowManifests includes every rendered manifest instead of a summary.
	ShowManifests bool
}

// Plan returns the ordered steps node n would take, with the exact content it
// would write, computed by the same code that applies them.
func Plan(f *config.File, n config.Node, opts PlanOptions) (plan.Node, error) {
	out := plan.Node{Node: n.Name, Role: n.Role}
	out.Steps = append(out.Steps, labelsStep(&f.Cluster, n))
	return out, nil
}

// labelsStep shows the labels nodeagent owns on the node and what they
// follow: the cluster file, a mounted disk, a plugged USB device.
func labelsStep(c *config.Cluster, n config.Node) plan.Step {
	s := plan.Step{Name: "labels", Summary: "node labels owned by nodeagent (only these are ever removed)"}
	if len(n.Labels) > 0 {
		s.Actions = append(s.Actions, plan.Action{Description: "static labels from the cluster file: " + formatLabels(n.Labels)})
	}
	for _, d := range n.Disks {
		if len(d.Labels) > 0 {
			s.Actions = append(s.Actions, plan.Action{Description: fmt.Sprintf("while %s is mounted: %s", d.MountPoint, formatLabels(d.Labels))})
		}
	}
	expected := map[string]bool{}
	for _, u := range n.USB {
		expected[u] = true
	}
	for _, r := range c.USBRules() {
		where := "if plugged in here"
		if expected[r.Name] {
			where = "expected on this node"
		}
		s.Actions = append(s.Actions, plan.Action{Description: fmt.Sprintf("USB rule %s (%s, %d devices): while a match is plugged in: %s", r.Name, where, len(r.Match), formatLabels(r.Labels))})
	}
	return s
}

func formatLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
