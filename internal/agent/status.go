package agent

import (
	"context"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// StatusReport is one screen of `nodeagent status`, but for a server's etcd
// view, which the command adds (internal/serverwork). Each part is gathered on
// its own: a part that cannot be read says why, the rest still shows.
type StatusReport struct {
	Node       string            `json:"node"`
	Role       string            `json:"role"`
	K3sVersion string            `json:"k3sVersion"`
	K3sUnit    string            `json:"k3sUnit"`
	Joined     bool              `json:"joined"`
	Labels     map[string]string `json:"ownedLabels,omitempty"`
	Disks      []disk.Status     `json:"disks,omitempty"`
	Firewall   FirewallStatus    `json:"firewall"`
	LastErrors []string          `json:"lastErrors,omitempty"`
	Problems   []string          `json:"problems,omitempty"`
}

// FirewallStatus says whether UFW is in the state the cluster file wants.
type FirewallStatus struct {
	Managed    bool `json:"managed"`
	Active     bool `json:"active"`
	OwnedRules int  `json:"ownedRules"`
	// Drift counts owned rules missing or stale.
	Drift int `json:"drift"`
}

// Status gathers the report, with a short timeout per part.
func (a *Agent) Status(ctx context.Context) StatusReport {
	r := StatusReport{Node: a.Node.Name, Role: a.Node.Role, K3sVersion: a.cluster().K3s.Version}
	problem := func(part string, err error) { r.Problems = append(r.Problems, part+": "+err.Error()) }
	st, err := LoadState(a.Root)
	if err != nil {
		problem("state", err)
	}
	r.Joined, r.LastErrors = st.Joined, st.LastErrors
	if a.Systemd != nil {
		if u, err := a.Systemd.State(ctx, k3s.UnitName(a.Node.Role)); err != nil {
			problem("k3s unit", err)
		} else {
			r.K3sUnit = u.String()
		}
	}
	if ds, err := a.disks.NodeStatus(ctx, a.Node); err != nil {
		problem("disks", err)
	} else {
		r.Disks = ds
	}
	r.Firewall = a.firewallStatus(ctx, problem)
	r.Labels = a.ownedLabels(ctx, problem)
	return r
}

func (a *Agent) firewallStatus(ctx context.Context, problem func(string, error)) FirewallStatus {
	fs := FirewallStatus{Managed: a.cluster().Firewall.IsEnabled()}
	live, err := a.firewall.Observe(ctx)
	if err != nil {
		problem("firewall", err)
		return fs
	}
	fs.Active = live.Active
	for _, r := range live.Rules {
		if strings.HasPrefix(r.Comment, firewall.OwnerTag) {
			fs.OwnedRules++
		}
	}
	if fs.Managed {
		add, remove := firewall.Diff(firewall.Desired(a.cluster(), a.Node), live.Rules)
		fs.Drift = len(add) + len(remove)
	}
	return fs
}

func (a *Agent) ownedLabels(ctx context.Context, problem func(string, error)) map[string]string {
	client, err := a.kubeClient()
	if err != nil {
		problem("labels", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	node, err := kube.GetNode(ctx, client, a.Node.Name)
	if err != nil {
		problem("labels", err)
		return nil
	}
	out := map[string]string{}
	for _, k := range strings.Split(node.Annotations[kube.OwnedLabelsAnnotation], ",") {
		if v, ok := node.Labels[k]; ok && k != "" {
			out[k] = v
		}
	}
	return out
}
