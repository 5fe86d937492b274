package main

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"go.uber.org/zap"
)

// nodeConfig is what k3s itself (not the kubelet) writes on its own Node
// once the kubelet registered it (pkg/agent/run.go configureNode, with the
// node's identity; a server's roles through the server's admin client):
// the node-label entries, re-applied at every start (the kubelet applies
// --node-labels only when it creates the Node), and the address
// annotations its cloud provider reads (ccm.go). Labels are never removed.
type nodeConfig struct {
	name, ip    string
	labels      map[string]string
	annotations map[string]string
	log         *zap.Logger
}

func newNodeConfig(name, ip string, nodeLabel []string, log *zap.Logger) (*nodeConfig, error) {
	l, err := parseNodeLabels(nodeLabel)
	if err != nil {
		return nil, err
	}
	return &nodeConfig{name: name, ip: ip, labels: l, log: log,
		annotations: map[string]string{internalIPAnnotation: ip, hostnameAnnotation: name}}, nil
}

// parseNodeLabels parses node-label's key=value entries.
func parseNodeLabels(nodeLabel []string) (map[string]string, error) {
	l := map[string]string{}
	for _, kv := range nodeLabel {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == "" {
			return nil, fmt.Errorf("node-label %q: empty key", kv)
		}
		l[k] = v
	}
	return l, nil
}

// serverRoleLabels are the labels k3s's server gives its own node
// (pkg/server/server.go setNodeLabelsAndAnnotations).
func serverRoleLabels() map[string]string {
	l := map[string]string{}
	for _, role := range []string{"control-plane", "etcd", "master"} {
		l["node-role.kubernetes.io/"+role] = "true"
	}
	return l
}

// apply waits for the Node the kubelet registers (an error until it
// exists, for retry) and merges the labels and annotations into it.
func (k *nodeConfig) apply(ctx context.Context, cs kubernetes.Interface) error {
	nodes := cs.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s (registered by the kubelet): %w", k.name, err)
	}
	if hasAll(node.Labels, k.labels) && hasAll(node.Annotations, k.annotations) {
		return nil
	}
	node = node.DeepCopy()
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	maps.Copy(node.Labels, k.labels)
	maps.Copy(node.Annotations, k.annotations)
	if _, err := nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating labels of node %s: %w", k.name, err)
	}
	return nil
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
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
