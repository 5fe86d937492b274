// Package deps checks the dependency direction of the module:
// cmd -> {agent, platform} -> steps -> {config, host, plan}. Step packages
// never import each other, the host-facing steps never link client-go, and
// the resident daemon (cmd/nodeagentd) links none of what only the platform
// phases need.
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
			if upper(d) {
				t.Errorf("%s imports %s: dependencies point down", step, d)
			}
		}
	}
}

// upper are the packages that wire steps together.
func upper(pkg string) bool {
	for _, p := range []string{"internal/agent", "internal/platform", "internal/cli", "cmd/"} {
		if strings.HasPrefix(pkg, module+p) {
			return true
		}
	}
	return false
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

// daemonPackages make up the resident daemon; residentOnly lists what they
// must not link: client-go's typed clientset (whose scheme registers every
// API group at start), the API types, the etcd client and gRPC, and the
// packages that use them. Those run in a `nodeagent` child instead.
var daemonPackages = []string{"cmd/nodeagentd", "internal/agent", "internal/cli", "internal/kube"}

var notInDaemon = []string{
	"k8s.io/client-go/kubernetes",
	"k8s.io/api/",
	"go.etcd.io/",
	"google.golang.org/grpc",
	module + "internal/platform",
	module + "internal/apply",
	module + "internal/quorum",
	module + "internal/manifests",
}

func TestDaemonLinksNoPlatformDependencies(t *testing.T) {
	for _, pkg := range daemonPackages {
		for _, d := range deps(t, pkg) {
			for _, banned := range notInDaemon {
				if strings.HasPrefix(d, banned) {
					t.Errorf("%s links %s, which belongs in the platform child (internal/platform)", pkg, d)
				}
			}
		}
	}
}

// The full command line does link them: the check above is not vacuous.
func TestCommandLineLinksThePlatform(t *testing.T) {
	all := strings.Join(deps(t, "cmd/nodeagent"), "\n")
	for _, want := range []string{"k8s.io/client-go/kubernetes", "go.etcd.io/etcd/client/v3", module + "internal/platform"} {
		if !strings.Contains(all, want) {
			t.Errorf("cmd/nodeagent does not link %s", want)
		}
	}
}
