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
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// nodeLabels are the labels k3s's kubelet and server set on a server node,
// then the node-label entries, which win on conflict.
func (s *server) nodeLabels() (map[string]string, error) {
	l := map[string]string{
		"kubernetes.io/hostname":                s.cfg.NodeName,
		"kubernetes.io/os":                      "linux",
		"kubernetes.io/arch":                    runtime.GOARCH,
		"beta.kubernetes.io/os":                 "linux",
		"beta.kubernetes.io/arch":               runtime.GOARCH,
		"node.kubernetes.io/instance-type":      "k3s",
		"node-role.kubernetes.io/control-plane": "true",
		"node-role.kubernetes.io/etcd":          "true",
		"node-role.kubernetes.io/master":        "true",
	}
	for _, kv := range s.cfg.NodeLabel {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == "" {
			return nil, fmt.Errorf("node-label %q: empty key", kv)
		}
		l[k] = v
	}
	return l, nil
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

// registerNode creates the Node as the kubelet would (taints only at
// creation, as --register-with-taints), or on a restart merges the
// node-label entries into its labels without removing any, then reports the
// node Ready with its InternalIP.
func (s *server) registerNode(ctx context.Context, cs kubernetes.Interface) error {
	labels, err := s.nodeLabels()
	if err != nil {
		return err
	}
	nodes := cs.CoreV1().Nodes()
	node, err := nodes.Get(ctx, s.cfg.NodeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.cfg.NodeName, Labels: labels}}
		for _, t := range s.cfg.NodeTaint {
			taint, err := parseTaint(t)
			if err != nil {
				return err
			}
			node.Spec.Taints = append(node.Spec.Taints, taint)
		}
		if node, err = nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", s.cfg.NodeName, err)
		}
	case err != nil:
		return fmt.Errorf("reading node %s: %w", s.cfg.NodeName, err)
	default:
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		maps.Copy(node.Labels, labels)
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating labels of node %s: %w", s.cfg.NodeName, err)
		}
	}
	node.Status = s.nodeStatus()
	if node, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating status of node %s: %w", s.cfg.NodeName, err)
	}
	return s.removeNotReadyTaint(ctx, nodes, node)
}

// removeNotReadyTaint does what the node-lifecycle controller would once
// the node is Ready: the TaintNodesByCondition admission plugin adds
// node.kubernetes.io/not-ready at creation, and no controller runs here.
func (s *server) removeNotReadyTaint(ctx context.Context, nodes typedcorev1.NodeInterface, node *corev1.Node) error {
	kept := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool {
		return t.Key == corev1.TaintNodeNotReady
	})
	if len(kept) == len(node.Spec.Taints) {
		return nil
	}
	node.Spec.Taints = kept
	if _, err := nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("removing the not-ready taint of node %s: %w", s.cfg.NodeName, err)
	}
	return nil
}

// nodeStatus is a static Ready status: no kubelet runs, and no
// node-lifecycle controller will ever mark the node NotReady.
func (s *server) nodeStatus() corev1.NodeStatus {
	now := metav1.NewTime(time.Now())
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: s.cfg.NodeIP},
			{Type: corev1.NodeHostName, Address: s.cfg.NodeName},
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
