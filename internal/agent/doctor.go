package agent

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/preflight"
)

// Doctor gathers the checks of every step that applies here and has any,
// in table order, then the daemon's own (its metrics endpoint).
func (a *Agent) Doctor(ctx context.Context) []preflight.Check {
	var out []preflight.Check
	for _, s := range a.applicable() {
		if c, ok := s.(Checker); ok {
			out = append(out, c.Checks(ctx)...)
		}
	}
	return append(out, metricsCheck(a.cluster().Metrics.Address()))
}
