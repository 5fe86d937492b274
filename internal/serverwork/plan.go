package serverwork

import (
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// ClusterPlan is the part applied once for the whole cluster, by the server
// that holds the apply lease: the manifests (each in full with
// showManifests) and the capacity analysis. Chart files (chartFile) are
// read under root, as the apply reads them, and shown by file and hash.
func ClusterPlan(f *config.File, root host.Root, showManifests bool) (plan.Node, error) {
	c := &f.Cluster
	in, charts, readErr := chartInputs(root, f)
	// A chart file this machine cannot read (a workstation planning every
	// node) is a note, not the end of the plan.
	in.WithoutChartContent = readErr != nil
	set, err := manifests.RenderWith(c, in)
	if err != nil {
		return plan.Node{}, fmt.Errorf("rendering manifests: %w", err)
	}
	showCharts(set, charts)
	step := plan.Step{Name: "manifests", Summary: fmt.Sprintf("%d objects, server-side applied in phases by the lease holder once etcd has quorum; overlay %s after them", len(set), c.Apply.OverlayDir)}
	step.Notes = append(step.Notes, chartNotes(f, charts, readErr)...)
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
