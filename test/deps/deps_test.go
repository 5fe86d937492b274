// Package deps checks the dependency direction of the module:
// cmd -> agent -> steps -> {config, host, plan}. Step packages never import
// each other, and the host-facing steps never link client-go.
package deps

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nodeagent/nodeagent/"

// steps are the packages that each do one job on the node.
var steps = []string{"internal/k3s", "internal/disk", "internal/usb", "internal/firewall", "internal/kube", "internal/manifests", "internal/quorum", "internal/systemd", "internal/apply"}

// noClientGo must stay small: they run on every node, often before k3s exists.
var noClientGo = []string{"internal/usb", "internal/disk", "internal/firewall", "internal/config", "internal/host", "internal/plan", "internal/uevent", "internal/identity", "internal/logging"}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../../"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestStepsDoNotImportEachOther(t *testing.T) {
	for _, step := range steps {
		for _, d := range deps(t, step) {
			for _, other := range steps {
				if other != step && d == module+other {
					t.Errorf("%s imports %s: step packages exchange data through internal/agent", step, other)
				}
			}
			if strings.HasPrefix(d, module+"internal/agent") || strings.HasPrefix(d, module+"cmd/") {
				t.Errorf("%s imports %s: dependencies point down", step, d)
			}
		}
	}
}

func TestHostStepsDoNotLinkClientGo(t *testing.T) {
	for _, pkg := range noClientGo {
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, "k8s.io/client-go") {
				t.Errorf("%s links %s", pkg, d)
			}
		}
	}
}
