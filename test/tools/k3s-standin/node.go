package main

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"go.uber.org/zap"
)

// kubeletNode is what a kubelet keeps of its own Node: it registers it
// and renews its Lease (nodelease.go). A server's and an agent's differ in
// their labels and in the client they use (the admin's on a server, the
// node's own identity on an agent).
type kubeletNode struct {
	name, ip string
	labels   map[string]string
	taints   []string
	log      *zap.Logger
}

// kubeletLabels are the labels the kubelet and k3s's cloud provider set
// on every node, then the node-label entries, which win on conflict.
func kubeletLabels(name string, nodeLabel []string) (map[string]string, error) {
	l := map[string]string{
		"kubernetes.io/hostname":           name,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               runtime.GOARCH,
		"beta.kubernetes.io/os":            "linux",
		"beta.kubernetes.io/arch":          runtime.GOARCH,
		"node.kubernetes.io/instance-type": "k3s",
	}
	for _, kv := range nodeLabel {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == "" {
			return nil, fmt.Errorf("node-label %q: empty key", kv)
		}
		l[k] = v
	}
	return l, nil
}

// nodeLabels are a server node's: the kubelet's plus the roles k3s's
// server gives its own node.
func (s *server) nodeLabels() (map[string]string, error) {
	l, err := kubeletLabels(s.cfg.NodeName, s.cfg.NodeLabel)
	if err != nil {
		return nil, err
	}
	for _, role := range []string{"control-plane", "etcd", "master"} {
		l["node-role.kubernetes.io/"+role] = "true"
	}
	return l, nil
}

func (s *server) kubelet() (*kubeletNode, error) {
	labels, err := s.nodeLabels()
	if err != nil {
		return nil, err
	}
	return &kubeletNode{name: s.cfg.NodeName, ip: s.cfg.NodeIP, labels: labels, taints: s.cfg.NodeTaint, log: s.log}, nil
}

// register creates the Node as the kubelet would (taints only at
// creation, as --register-with-taints), or on a restart merges the
// node-label entries into its labels without removing any, then reports the
// node Ready with its InternalIP.
func (k *kubeletNode) register(ctx context.Context, cs kubernetes.Interface) error {
	labels := k.labels
	nodes := cs.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.name, Labels: labels}}
		for _, t := range k.taints {
			taint, err := parseTaint(t)
			if err != nil {
				return err
			}
			node.Spec.Taints = append(node.Spec.Taints, taint)
		}
		if node, err = nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", k.name, err)
		}
	case err != nil:
		return fmt.Errorf("reading node %s: %w", k.name, err)
	default:
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		maps.Copy(node.Labels, labels)
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating labels of node %s: %w", k.name, err)
		}
	}
	node.Status = withOthersConditions(k.nodeStatus(), node.Status.Conditions)
	if _, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating status of node %s: %w", k.name, err)
	}
	return nil
}

// withOthersConditions keeps the conditions other writers own (nodeagent's
// NodeagentReady, say) beside the kubelet's: the kubelet patches its own
// condition types into the Node's status and leaves the rest
// (pkg/kubelet/kubelet_node_status.go, nodeutil.PatchNodeStatus).
func withOthersConditions(st corev1.NodeStatus, existing []corev1.NodeCondition) corev1.NodeStatus {
	for _, c := range existing {
		if !slices.ContainsFunc(st.Conditions, func(own corev1.NodeCondition) bool { return own.Type == c.Type }) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st
}

// parseTaint parses "key[=value]:Effect", the node-taint syntax.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || effect == "" {
		return corev1.Taint{}, fmt.Errorf("node-taint %q: want key[=value]:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	return corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)}, nil
}

// nodeStatus is a static Ready status: no kubelet runs, and no
// node-lifecycle controller will ever mark the node NotReady.
func (k *kubeletNode) nodeStatus() corev1.NodeStatus {
	now := metav1.NewTime(time.Now())
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.ip},
			{Type: corev1.NodeHostName, Address: k.name},
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", Message: "k3s test stand-in: no kubelet runs; always Ready",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:  Version,
			OperatingSystem: "linux",
			Architecture:    runtime.GOARCH,
		},
	}
}
