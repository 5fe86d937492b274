package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// PlanOptions tune the plan.
type PlanOptions struct {
	// Live reads this machine (ufw rules, block devices) so the plan shows
	// only what would change here; without it the plan is that of a fresh
	// node, computed from the cluster file alone.
	Live   bool
	Root   host.Root
	Runner host.Runner
	Log    *zap.Logger
}

// Plan returns the ordered steps node n would take, with the exact content it
// would write, computed by the same code that applies them. It changes
// nothing on the host.
func Plan(ctx context.Context, f *config.File, n config.Node, opts PlanOptions) (plan.Node, error) {
	c := &f.Cluster
	out := plan.Node{Node: n.Name, Role: n.Role}
	out.Steps = append(out.Steps, preflightStep())
	if len(n.Disks) > 0 {
		s, err := diskPlan(ctx, n, opts)
		if err != nil {
			return out, err
		}
		out.Steps = append(out.Steps, s)
	}
	fw, err := firewallPlan(ctx, c, n, opts)
	if err != nil {
		return out, err
	}
	out.Steps = append(out.Steps, fw)
	k, err := k3s.Plan(c, n)
	if err != nil {
		return out, err
	}
	out.Steps = append(out.Steps, k, registerStep(n), usb.PlanStep(c.USBRules(), n.USB), labelsStep(n))
	if n.Role == config.RoleServer {
		out.Steps = append(out.Steps, quorumStep(c))
	}
	return out, nil
}

func preflightStep() plan.Step {
	return plan.Step{Name: "preflight", Summary: "Raspberry Pi checks (`nodeagent doctor` reports them)", Notes: []string{
		"memory cgroup: add cgroup_memory=1 cgroup_enable=memory to /boot/firmware/cmdline.txt (or /boot/cmdline.txt) once, with a backup; stop and ask for a reboot",
		"wait for the clock to be synchronised (timedated NTPSynchronized) before any TLS: the Pi has no RTC",
		"kernel modules br_netfilter, overlay, vxlan; swap on is a warning",
	}}
}

func diskPlan(ctx context.Context, n config.Node, opts PlanOptions) (plan.Step, error) {
	if !opts.Live {
		return disk.Plan(n), nil
	}
	m := disk.NewManager(opts.Root, opts.Runner, nil, host.RealClock{}, opts.Log)
	return m.PlanNode(ctx, n)
}

// firewallPlan shows the ufw commands: against the live rules on this
// machine, or from a fresh install for a node planned from elsewhere.
func firewallPlan(ctx context.Context, c *config.Cluster, n config.Node, opts PlanOptions) (plan.Step, error) {
	if opts.Live {
		return firewall.New(opts.Root, opts.Runner, opts.Log).Plan(ctx, c, n)
	}
	return firewall.FreshPlan(c, n)
}

func registerStep(n config.Node) plan.Step {
	return plan.Step{Name: "register", Summary: "wait until node " + n.Name + " is registered in the API (kubeconfig " + kube.K3sKubeconfig + ")"}
}

// labelsStep shows the labels nodeagent owns on the node and what they
// follow: the cluster file, a mounted disk, a plugged USB device (usb step).
func labelsStep(n config.Node) plan.Step {
	s := plan.Step{Name: "labels", Summary: "node labels owned by nodeagent (recorded in nodeagent.dev/owned-labels; only these are ever removed)"}
	if len(n.Labels) > 0 {
		s.Actions = append(s.Actions, plan.Action{Description: "static labels from the cluster file: " + formatLabels(n.Labels)})
	}
	for _, d := range n.Disks {
		if len(d.Labels) > 0 {
			s.Actions = append(s.Actions, plan.Action{Description: fmt.Sprintf("while %s is mounted: %s", d.MountPoint, formatLabels(d.Labels))})
		}
	}
	if len(s.Actions) == 0 {
		s.Notes = append(s.Notes, "no static or disk labels; USB labels as above")
	}
	return s
}

func quorumStep(c *config.Cluster) plan.Step {
	n := len(c.Servers())
	return plan.Step{Name: "quorum", Summary: fmt.Sprintf("wait up to %s until %d of %d etcd voters are healthy, then compete for the apply lease",
		c.Apply.QuorumTimeout.Duration, n/2+1, n)}
}

func formatLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
