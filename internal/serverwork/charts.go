package serverwork

import (
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/chartfile"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// chartInputs reads and checks the platform's chart files (none for a
// cluster that names none) for the HelmCharts of an apply.
func chartInputs(root host.Root, f *config.File) (manifests.Inputs, map[string]*chartfile.Chart, error) {
	charts, err := chartfile.ForCluster(root, f)
	if err != nil {
		return manifests.Inputs{}, nil, err
	}
	in := manifests.Inputs{ChartContent: map[string][]byte{}}
	for name, ch := range charts {
		in.ChartContent[name] = ch.Data
	}
	return in, charts, nil
}

// chartContentShown is what plan output shows for a chart's content: the
// file and its hash, never the base64 (hundreds of KiB of noise).
func chartContentShown(ch *chartfile.Chart) string {
	return fmt.Sprintf("<base64 of %s: %d bytes, sha256 %s>", ch.Path, len(ch.Data), ch.SHA256)
}

// showCharts replaces each rendered chartContent of set with what
// chartContentShown says of it, for plan output only.
func showCharts(set manifests.Set, charts map[string]*chartfile.Chart) {
	for _, o := range set {
		if o.Object.GetKind() != "HelmChart" {
			continue
		}
		spec, _ := o.Object.Object["spec"].(map[string]any)
		if _, ok := spec["chartContent"]; !ok {
			continue
		}
		if ch, ok := charts[o.Object.GetName()]; ok {
			spec["chartContent"] = chartContentShown(ch)
		}
	}
}

// chartNotes says, for plan output, where each chart comes from: a file
// read here with its hash, or why this machine could not read it.
func chartNotes(f *config.File, charts map[string]*chartfile.Chart, readErr error) []string {
	var notes []string
	for _, h := range f.Platform.Charts() {
		if !h.IsEnabled() || h.ChartFile == "" {
			continue
		}
		if ch, ok := charts[h.Chart]; ok {
			notes = append(notes, fmt.Sprintf("chart %s %s from %s (%d bytes, sha256 %s) as the HelmChart's chartContent",
				ch.Name, ch.Version, ch.Path, len(ch.Data), ch.SHA256))
		}
	}
	if readErr != nil {
		notes = append(notes, "chart files not read here; the apply would fail if the servers read the same:")
		notes = append(notes, strings.Split(readErr.Error(), "\n")...)
	}
	return notes
}
