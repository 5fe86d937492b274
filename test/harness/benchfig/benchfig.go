// Package benchfig lets a measurement put its figure in the summary table
// that `make bench` ends with (test/tools/benchtable reads it from the
// test output). A figure is logged as one line, so it also shows in a plain
// `go test -v` run.
package benchfig

import (
	"encoding/json"
	"testing"
)

// Marker starts the line that carries a figure.
const Marker = "BENCHFIG "

// Figure is one row of the table.
type Figure struct {
	// Name says what is measured, e.g. "apply 60 objects".
	Name string `json:"name"`
	// Value is the figure with its unit.
	Value string `json:"value"`
	// Target is the budget ("≤ 100ms median"); "" when there is none.
	Target string `json:"target,omitempty"`
	// Baseline is what the figure was compared with in the same run (a
	// bare kubectl, curl or ufw call), with its value; "" when none.
	Baseline string `json:"baseline,omitempty"`
	// Met is whether the target was met; nil without a target.
	Met *bool `json:"met,omitempty"`
}

// Report logs f for the summary table.
func Report(tb testing.TB, f Figure) {
	tb.Helper()
	line, err := json.Marshal(f)
	if err != nil {
		tb.Fatalf("benchfig: %v", err)
	}
	tb.Log(Marker + string(line))
}

// Met is a *bool for Figure.Met.
func Met(ok bool) *bool { return &ok }
