package usb_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the USB detection free of Kubernetes: the agent
// wires usb to kube, so usb must link neither client-go nor internal/kube.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/nodeagent/nodeagent/internal/usb").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		// k8s.io/apimachinery comes in through internal/config's label
		// validation and is fine; the client is not.
		if strings.HasPrefix(dep, "k8s.io/client-go") || strings.HasPrefix(dep, "k8s.io/api/") ||
			dep == "github.com/nodeagent/nodeagent/internal/kube" {
			t.Errorf("internal/usb depends on %s", dep)
		}
	}
}
