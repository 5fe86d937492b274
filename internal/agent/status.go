package agent

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// StatusReport is one screen of `nodeagent status`, but for a server's etcd
// view, which the command adds (internal/serverwork). Each step fills its
// own part: a part that cannot be read says why, the rest still shows.
type StatusReport struct {
	Node       string `json:"node"`
	Role       string `json:"role"`
	K3sVersion string `json:"k3sVersion"`
	// K3sInstalled is the installed binary's version, "" when unknown.
	K3sInstalled string             `json:"k3sInstalled,omitempty"`
	K3sUnit      string             `json:"k3sUnit"`
	Joined       bool               `json:"joined"`
	Labels       map[string]string  `json:"ownedLabels,omitempty"`
	Disks        []disk.Status      `json:"disks,omitempty"`
	Firewall     FirewallStatus     `json:"firewall"`
	Manifests    *child.ApplyRecord `json:"manifests,omitempty"`
	LastErrors   []string           `json:"lastErrors,omitempty"`
	Problems     []string           `json:"problems,omitempty"`

	// SealedKeys is the backups node's last sealed-secrets keys check.
	SealedKeys *child.SealedKeysRecord `json:"sealedKeys,omitempty"`
}

// FirewallStatus says whether UFW is in the state the cluster file wants.
type FirewallStatus struct {
	Managed    bool `json:"managed"`
	Active     bool `json:"active"`
	OwnedRules int  `json:"ownedRules"`
	// Drift counts owned rules missing or stale.
	Drift int `json:"drift"`
}

// Status gathers the report: nodeagent's own state, then each step's part,
// in table order.
func (a *Agent) Status(ctx context.Context) StatusReport {
	r := StatusReport{Node: a.Node.Name, Role: a.Node.Role}
	st, err := LoadState(a.Root)
	if err != nil {
		r.Problems = append(r.Problems, "state: "+err.Error())
	}
	r.Joined, r.LastErrors = st.Joined, st.LastErrors
	for _, s := range a.table {
		if err := s.Status(ctx, &r); err != nil {
			r.Problems = append(r.Problems, s.Name()+": "+err.Error())
		}
	}
	return r
}
