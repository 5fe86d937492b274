package agent

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// planText plans node name of the built-in homelab from the cluster file
// alone (not live) and renders it as the CLI does.
func planText(t *testing.T, name string) string {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := f.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return nodePlanText(t, f, n)
}

// nodePlanText plans node n of f as the CLI shows it.
func nodePlanText(t *testing.T, f *config.File, n config.Node) string {
	t.Helper()
	p, err := Plan(context.Background(), f, n, PlanOptions{Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b, []plan.Node{p}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPlanHomelabNodes(t *testing.T) {
	tests := []struct {
		node    string
		want    []string
		notWant []string
	}{
		{node: "pi4-1",
			want: []string{"server: <decided at join>", "cluster-init if no configured server has a cluster", "token: <redacted>",
				"ufw --force enable", "quorum: wait up to 30m0s until 2 of 3"},
			notWant: []string{"server: https://", "cluster-init: true", "mnt-hd1.mount", "(expected on this node)"}},
		{node: "pi4-2",
			want:    []string{"server: <decided at join>", "rule zigbee (expected on this node)", "matches Sonoff ZBDongle-P", "only pi4-1 creates the cluster"},
			notWant: []string{"cluster-init:", "cluster-init if", "mnt-hd1.mount", "/ping"}},
		{node: "pi5",
			want: []string{"server: <decided at join>", "decided at join (up to 15m0s)", "/etc/systemd/system/mnt-hd1.mount", "Where=/mnt/hd1",
				"while /mnt/hd1 is mounted: storage-type=hdd, storage=true", "/mnt/hd1/Library owned by 1000:1000"},
			notWant: []string{"cluster-init:", "wait up to 15m0s for pi4-2", "(expected on this node)"}},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			got := planText(t, tt.node)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("plan of %s lacks %q", tt.node, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("plan of %s contains %q", tt.node, w)
				}
			}
			// Steps run in the order of DESIGN.md's join flow.
			order := []string{"preflight:", "firewall:", "k3s:", "register:", "usb:", "labels:"}
			last := -1
			for _, step := range order {
				i := strings.Index(got, step)
				if i < last {
					t.Errorf("step %s out of order", step)
				}
				last = i
			}
		})
	}
}

// An agent has no k3s.yaml: its register, labels and node report use the
// kubelet's kubeconfig, and it plans no server work.
func TestPlanAgentUsesTheKubeletsCredentials(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.Node("pi4-2")
	n.Role = config.RoleAgent
	got := nodePlanText(t, f, n)
	for _, w := range []string{"kubelet of agent pi4-2", "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"} {
		if !strings.Contains(got, w) {
			t.Errorf("plan of an agent lacks %q:\n%s", w, got)
		}
	}
	for _, w := range []string{"k3s.yaml", "quorum:", "manifests:"} {
		if strings.Contains(got, w) {
			t.Errorf("plan of an agent contains %q:\n%s", w, got)
		}
	}
}

func TestNodeKubeconfigByRole(t *testing.T) {
	for role, want := range map[string]string{config.RoleServer: "/etc/rancher/k3s/k3s.yaml", config.RoleAgent: "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"} {
		a := &Agent{Deps: Deps{Node: config.Node{Role: role}}}
		if got := a.kubeconfig(); got != want {
			t.Errorf("kubeconfig of a %s = %s, want %s", role, got, want)
		}
	}
}
