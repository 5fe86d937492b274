package serverwork

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// ClusterStatus is every node of the cluster as one server sees it
// (`nodeagent status --cluster`).
type ClusterStatus struct {
	Nodes []ClusterNode `json:"nodes"`
	// ApplyLease is the apply Lease as it stands: its holder while one
	// applies, none once the last applier released it.
	ApplyLease *LeaseState `json:"applyLease,omitempty"`
	// Rollout is the k3s rollout the restart Lease records.
	Rollout RolloutStatus `json:"k3sRollout"`
	// EtcdError is why etcd's members could not be read.
	EtcdError string `json:"etcdError,omitempty"`
	// OtherMembers are etcd members named after no node shown.
	OtherMembers []EtcdMember `json:"otherEtcdMembers,omitempty"`
}

// ClusterNode is one node: from the cluster file, the API, or both.
type ClusterNode struct {
	Name          string `json:"name"`
	Registered    bool   `json:"registered"`
	InClusterFile bool   `json:"inClusterFile"`
	// Role is from the Node's node-role labels; the cluster file's for a
	// node not registered.
	Role       string `json:"role"`
	K3sVersion string `json:"k3sVersion,omitempty"`
	// Ready is the status of the Node's Ready condition: True, False or
	// Unknown; empty without one.
	Ready          string            `json:"ready,omitempty"`
	Etcd           []EtcdMember      `json:"etcd,omitempty"`
	NodeagentReady *NodeCondition    `json:"nodeagentReady,omitempty"`
	OwnedLabels    map[string]string `json:"ownedLabels,omitempty"`
	LastApply      *NodeEvent        `json:"lastApply,omitempty"`
}

// EtcdMember is one member's kind and health.
type EtcdMember struct {
	Name    string `json:"name"`
	Learner bool   `json:"learner"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// NodeCondition is a Node condition as nodeagent shows it.
type NodeCondition struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// NodeEvent is an Event recorded on a Node.
type NodeEvent struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
}

// LeaseState is the holder and last renewal of a Lease.
type LeaseState struct {
	Holder    string    `json:"holder,omitempty"`
	RenewTime time.Time `json:"renewTime"`
}

// ClusterReader gathers the ClusterStatus through the typed API and etcd.
type ClusterReader struct {
	Client  kubernetes.Interface
	Members memberObserver
	// Nodes are the cluster file's nodes, shown even when not registered.
	Nodes []config.Node
}

// Read lists the Nodes, the ManifestsApplied Events, the apply Lease, the
// k3s rollout on the restart Lease and etcd's members. Only a failure of the API is an error: an etcd that does
// not answer leaves the etcd column unknown.
func (r ClusterReader) Read(ctx context.Context) (*ClusterStatus, error) {
	nodes, err := r.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	applied, err := r.lastApplies(ctx)
	if err != nil {
		return nil, err
	}
	s := &ClusterStatus{Nodes: r.merge(nodes.Items)}
	if s.ApplyLease, err = r.applyLease(ctx); err != nil {
		return nil, err
	}
	if s.Rollout, err = readRollout(ctx, r.Client); err != nil {
		return nil, err
	}
	for i := range s.Nodes {
		s.Nodes[i].LastApply = applied[s.Nodes[i].Name]
	}
	st, err := r.Members.Observe(ctx)
	if err != nil {
		s.EtcdError = err.Error()
		return s, nil
	}
	s.OtherMembers = matchMembers(s.Nodes, st.Members)
	return s, nil
}

// merge lists the cluster file's nodes in its order, then the Nodes it does
// not name, by name.
func (r ClusterReader) merge(items []corev1.Node) []ClusterNode {
	byName := map[string]*corev1.Node{}
	for i := range items {
		byName[items[i].Name] = &items[i]
	}
	var out []ClusterNode
	for _, n := range r.Nodes {
		c := ClusterNode{Name: n.Name, InClusterFile: true, Role: n.Role}
		if node := byName[n.Name]; node != nil {
			fromNode(&c, node)
			delete(byName, n.Name)
		}
		out = append(out, c)
	}
	var extra []ClusterNode
	for _, node := range byName {
		c := ClusterNode{Name: node.Name}
		fromNode(&c, node)
		extra = append(extra, c)
	}
	slices.SortFunc(extra, func(a, b ClusterNode) int { return cmp.Compare(a.Name, b.Name) })
	return append(out, extra...)
}

// fromNode fills in what the Node says.
func fromNode(c *ClusterNode, n *corev1.Node) {
	c.Registered = true
	c.Role = nodeRole(n.Labels)
	c.K3sVersion = n.Status.NodeInfo.KubeletVersion
	for _, cond := range n.Status.Conditions {
		switch string(cond.Type) {
		case string(corev1.NodeReady):
			c.Ready = string(cond.Status)
		case kube.ConditionType:
			c.NodeagentReady = &NodeCondition{Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message}
		}
	}
	c.OwnedLabels = ownedLabels(n)
}

// serverRoleLabels are the node-role labels k3s sets to "true" on a server
// (pkg/server/server.go: control-plane and master; pkg/etcd: etcd).
var serverRoleLabels = []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master", "node-role.kubernetes.io/etcd"}

func nodeRole(labels map[string]string) string {
	for _, l := range serverRoleLabels {
		if labels[l] == "true" {
			return config.RoleServer
		}
	}
	return config.RoleAgent
}

// ownedLabels are the labels nodeagent records as its own on the Node, with
// their values; a recorded key someone removed since is left out.
func ownedLabels(n *corev1.Node) map[string]string {
	out := map[string]string{}
	for _, k := range strings.Split(n.Annotations[kube.OwnedLabelsAnnotation], ",") {
		if v, ok := n.Labels[strings.TrimSpace(k)]; ok {
			out[strings.TrimSpace(k)] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// lastApplies is the newest ManifestsApplied Event of each Node. Events of
// a Node (cluster-scoped) live in the recorder's namespace, so all are
// searched.
func (r ClusterReader) lastApplies(ctx context.Context) (map[string]*NodeEvent, error) {
	sel := fields.Set{"involvedObject.kind": "Node", "reason": kube.ReasonManifestsApplied}.AsSelector().String()
	events, err := r.Client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing %s events: %w", kube.ReasonManifestsApplied, err)
	}
	out := map[string]*NodeEvent{}
	for _, e := range events.Items {
		at := eventTime(&e)
		if last := out[e.InvolvedObject.Name]; last == nil || at.After(last.At) {
			out[e.InvolvedObject.Name] = &NodeEvent{At: at, Message: e.Message}
		}
	}
	return out, nil
}

// eventTime is when an Event last happened, whichever API recorded it:
// events.k8s.io/v1 writes eventTime and series, core/v1 the timestamps.
func eventTime(e *corev1.Event) time.Time {
	for _, t := range []time.Time{seriesTime(e), e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return e.CreationTimestamp.Time
}

func seriesTime(e *corev1.Event) time.Time {
	if e.Series == nil {
		return time.Time{}
	}
	return e.Series.LastObservedTime.Time
}

// applyLease reads the Lease apply.Leader competes for; none yet is nil.
func (r ClusterReader) applyLease(ctx context.Context) (*LeaseState, error) {
	l, err := r.Client.CoordinationV1().Leases(apply.LeaseNamespace).Get(ctx, apply.LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading lease %s/%s: %w", apply.LeaseNamespace, apply.LeaseName, err)
	}
	s := &LeaseState{Holder: ptrValue(l.Spec.HolderIdentity)}
	if l.Spec.RenewTime != nil {
		s.RenewTime = l.Spec.RenewTime.Time
	}
	return s, nil
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// matchMembers gives each node the members k3s named after it
// ("<node>-<8 hex>") and returns the members of no node.
func matchMembers(nodes []ClusterNode, members []quorum.Member) []EtcdMember {
	matched := map[uint64]bool{}
	for i := range nodes {
		for _, m := range quorum.MembersOfNode(members, nodes[i].Name) {
			nodes[i].Etcd = append(nodes[i].Etcd, shownMember(m))
			matched[m.ID] = true
		}
	}
	var other []EtcdMember
	for _, m := range members {
		if !matched[m.ID] {
			other = append(other, shownMember(m))
		}
	}
	return other
}

func shownMember(m quorum.Member) EtcdMember {
	return EtcdMember{Name: m.Name, Learner: m.Learner, Healthy: m.Healthy, Reason: m.Reason}
}

// ClusterStatus reads every node of the cluster through this server's
// kubeconfig and etcd, with a short timeout.
func (p *Work) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, err := p.clientset()
	if err != nil {
		return nil, err
	}
	return ClusterReader{Client: client, Members: p.quorum, Nodes: p.cfg.Cluster.Nodes}.Read(ctx)
}
