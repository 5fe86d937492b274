package k3s

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/test/golden"
)

func TestPlan(t *testing.T) {
	c := defaultCluster(t)
	for _, name := range []string{"pi4-1", "pi5"} {
		t.Run(name, func(t *testing.T) {
			n, _ := c.Node(name)
			step, err := Plan(c, n)
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.MarshalIndent(step, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "plan/"+name+".json", append(out, '\n'))
			var text strings.Builder
			for _, a := range step.Actions {
				text.WriteString(a.Description + "\n")
				if a.File != nil {
					text.WriteString(a.File.Content)
				}
			}
			for _, want := range []string{"token: " + plan.Redacted, "v1.33.5%2Bk3s1/k3s-arm64", "sha256sum-arm64.txt", "ExecStart=/usr/local/bin/k3s server"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("plan lacks %q", want)
				}
			}
		})
	}
}
