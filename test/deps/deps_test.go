// Package deps checks the dependency direction of the module:
// cmd -> cli -> {agent, serverwork} -> steps -> {config, host, plan}. Step
// packages never import each other nor the packages that wire them, the
// host-facing steps never link client-go, and the resident daemon
// (cmd/nodeagentd) links none of what only the server work needs.
package deps

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nodeagent/nodeagent/"

// steps are the packages that each do one job on the node, and the helpers
// only one step uses (release for k3s; quorum, apply and capacity for
// serverwork).
var steps = []string{"internal/k3s", "internal/release", "internal/preflight", "internal/disk", "internal/usb", "internal/firewall",
	"internal/kube", "internal/manifests", "internal/capacity", "internal/quorum", "internal/systemd", "internal/apply"}

// uses are the only step-to-step imports allowed: a step and the helper
// package split out of it.
var uses = map[string][]string{"internal/k3s": {"internal/release"}, "internal/capacity": {"internal/manifests"}}

// noClientGo must stay small: they run on every node, often before k3s exists.
var noClientGo = []string{"internal/usb", "internal/disk", "internal/firewall", "internal/config", "internal/host", "internal/plan",
	"internal/uevent", "internal/identity", "internal/logging", "internal/preflight", "internal/release", "internal/k3s",
	"internal/serverwork/child", "internal/uninstall"}

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
		allowed := map[string]bool{}
		for _, u := range uses[step] {
			allowed[module+u] = true
		}
		for _, d := range deps(t, step) {
			for _, other := range steps {
				if other != step && d == module+other && !allowed[d] {
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
	for _, p := range []string{"internal/agent", "internal/serverwork", "internal/cli", "cmd/"} {
		if strings.HasPrefix(pkg, module+p) {
			return true
		}
	}
	return false
}

// The agent knows the steps; the server work is reached only through its
// interface, so the agent never imports internal/serverwork itself.
func TestAgentReachesServerWorkThroughItsInterface(t *testing.T) {
	for _, d := range deps(t, "internal/agent") {
		if d == module+"internal/serverwork" || d == module+"internal/cli" || strings.HasPrefix(d, module+"cmd/") {
			t.Errorf("internal/agent imports %s", d)
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

// daemonPackages make up the resident daemon; notInDaemon lists what they
// must not link: client-go's typed clientset (whose scheme registers every
// API group at start), the API types, the etcd client and gRPC, and the
// packages that use them. Those run in a `nodeagent` child instead.
var daemonPackages = []string{"cmd/nodeagentd", "internal/agent", "internal/cli", "internal/kube", "internal/nodereport", "internal/serverwork/child"}

var notInDaemon = []string{
	"k8s.io/client-go/kubernetes",
	"k8s.io/api/",
	"go.etcd.io/",
	"google.golang.org/grpc",
	module + "internal/apply",
	module + "internal/quorum",
	module + "internal/manifests",
	module + "internal/capacity",
}

func TestDaemonLinksNoServerWorkDependencies(t *testing.T) {
	for _, pkg := range daemonPackages {
		for _, d := range deps(t, pkg) {
			// serverwork/child is the daemon's side of the protocol; the
			// rest of serverwork is the child's.
			banned := d == module+"internal/serverwork"
			for _, b := range notInDaemon {
				banned = banned || strings.HasPrefix(d, b)
			}
			if banned {
				t.Errorf("%s links %s, which belongs in the server-work child (internal/serverwork)", pkg, d)
			}
		}
	}
}

// The full command line does link them: the check above is not vacuous.
func TestCommandLineLinksTheServerWork(t *testing.T) {
	all := strings.Join(deps(t, "cmd/nodeagent"), "\n")
	for _, want := range []string{"k8s.io/client-go/kubernetes", "go.etcd.io/etcd/client/v3", module + "internal/serverwork\n"} {
		if !strings.Contains(all+"\n", want) {
			t.Errorf("cmd/nodeagent does not link %s", strings.TrimSpace(want))
		}
	}
}
