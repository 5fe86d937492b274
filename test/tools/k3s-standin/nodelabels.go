package main

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	kubeletapis "k8s.io/kubelet/pkg/apis"
)

// validateKubeletNodeLabels is the kubelet's --node-labels check
// (k8s.io/kubernetes cmd/kubelet/app/options/options.go
// ValidateKubeletFlags), with the kubelet's own list of the labels it may
// set (k8s.io/kubelet/pkg/apis): a label in the kubernetes.io or k8s.io
// namespaces that a kubelet may not set on its Node makes the kubelet
// refuse to start. k3s passes node-label as --node-labels and, when the
// embedded kubelet fails, exits (pkg/daemons/executor/embed.go:
// "kubelet exited").
func validateKubeletNodeLabels(nodeLabel []string) error {
	var unknown, invalid []string
	for _, kv := range nodeLabel {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if isKubernetesLabel(k) && !kubeletapis.IsKubeletLabel(k) {
			unknown = append(unknown, k)
		}
		for _, e := range validation.IsQualifiedName(k) {
			invalid = append(invalid, fmt.Sprintf("'%s' - %s", k, e))
		}
		for _, e := range validation.IsValidLabelValue(v) {
			invalid = append(invalid, fmt.Sprintf("'%s' - %s", v, e))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: %v\n"+
			"--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (%s) or be in the specifically allowed set (%s)",
			slices.Compact(unknown), strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "), strings.Join(kubeletapis.KubeletLabels(), ", "))
	}
	if len(invalid) > 0 {
		return fmt.Errorf("invalid node labels: %s", strings.Join(invalid, "; "))
	}
	return nil
}

// isKubernetesLabel is the kubelet's: the key's prefix is kubernetes.io,
// k8s.io or a subdomain of either.
func isKubernetesLabel(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	for _, d := range []string{"kubernetes.io", "k8s.io"} {
		if ns == d || strings.HasSuffix(ns, "."+d) {
			return true
		}
	}
	return false
}
