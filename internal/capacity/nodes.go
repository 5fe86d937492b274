package capacity

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Node is a node as placement sees it.
type Node struct {
	Name string
	Role string
	// Capacity is the node's allocatable: k3s sets no system-reserved, so
	// the scheduler offers the whole machine to pods.
	Capacity Usage
	// Overhead is what k3s itself uses, invisible to the scheduler.
	Overhead Usage
	// Labels are every label the node may carry: static, disk, expected USB
	// devices and the ones k3s sets.
	Labels map[string]string
	Taints []corev1.Taint
}

// nodesOf builds the placement view of the cluster's nodes.
func nodesOf(c *config.Cluster, opts Options) []Node {
	out := make([]Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		out = append(out, Node{
			Name: n.Name, Role: n.Role,
			Capacity: parseCapacity(n.Capacity),
			Overhead: opts.overhead(n),
			Labels:   c.PossibleLabels(n),
			Taints:   parseTaints(n.Taints),
		})
	}
	return out
}

func parseCapacity(c config.Capacity) Usage {
	var u Usage
	if q, err := resource.ParseQuantity(c.Memory); err == nil {
		u.Memory = q.Value()
	}
	if q, err := resource.ParseQuantity(c.CPU); err == nil {
		u.CPU = q.MilliValue()
	}
	return u
}

// parseTaints reads k3s node-taint strings, key[=value]:Effect.
func parseTaints(in []string) []corev1.Taint {
	var out []corev1.Taint
	for _, s := range in {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out
}

// eligible reports whether p may run on n at all: n can carry every HARD
// label and p tolerates n's scheduling taints.
func eligible(p Pod, n Node) bool {
	if !hasLabels(n.Labels, p.Require) {
		return false
	}
	for _, t := range n.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range p.Tolerations {
			tolerated = tolerated || tolerates(tol, t)
		}
		if !tolerated {
			return false
		}
	}
	return true
}

// tolerates is the toleration matching of the Kubernetes API (key, Exists or
// Equal value, effect; an empty key with Exists tolerates everything).
func tolerates(tol corev1.Toleration, t corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key == "" {
		return tol.Operator == corev1.TolerationOpExists
	}
	if tol.Key != t.Key {
		return false
	}
	if tol.Operator == corev1.TolerationOpExists {
		return true
	}
	return tol.Value == t.Value
}

// hasLabels reports whether have includes every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
