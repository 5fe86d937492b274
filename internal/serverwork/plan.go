package serverwork

import (
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// ClusterPlan is the part applied once for the whole cluster, by the server
// that holds the apply lease: the manifests (each in full with
// showManifests) and the capacity analysis.
func ClusterPlan(c *config.Cluster, showManifests bool) (plan.Node, error) {
	set, err := manifests.Render(c)
	if err != nil {
		return plan.Node{}, fmt.Errorf("rendering manifests: %w", err)
	}
	step := plan.Step{Name: "manifests", Summary: fmt.Sprintf("%d objects, server-side applied in phases by the lease holder once etcd has quorum; overlay %s after them", len(set), c.Apply.OverlayDir)}
	if showManifests {
		data, err := manifests.YAML(set.Objects())
		if err != nil {
			return plan.Node{}, err
		}
		step.Actions = append(step.Actions, plan.Action{Description: "every manifest", File: &plan.File{Path: "(applied through the API)", Mode: "-", Content: string(data)}})
	} else {
		step.Notes = append(step.Notes, strings.Split(strings.TrimRight(set.Summary(), "\n"), "\n")...)
		step.Notes = append(step.Notes, "(--show-manifests prints them in full)")
	}
	report, err := capacity.Analyze(c, set, capacity.Options{})
	if err != nil {
		return plan.Node{}, fmt.Errorf("capacity analysis: %w", err)
	}
	fit := plan.Step{Name: "capacity", Summary: "placement of the rendered requests and single-node failures"}
	fit.Notes = strings.Split(strings.TrimRight(report.String(), "\n"), "\n")
	return plan.Node{Node: "cluster", Role: "applied once", Steps: []plan.Step{step, fit}}, nil
}
