package kube

import (
	"fmt"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// refusedPatch explains a 403 on the label patch. With an agent's kubelet
// credentials the Node authorizer lets a node change only its own Node,
// and NodeRestriction refuses it some labels
// (plugin/pkg/admission/noderestriction/admission.go): the apiserver's
// "is not allowed to modify labels" says neither which rule nor what to
// change in the cluster file.
func refusedPatch(node string, d Diff, err error) error {
	var refused []string
	for _, k := range config.SortedKeys(d.Labels) {
		if config.KubeletRefusesLabel(k) != "" {
			refused = append(refused, k)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("the apiserver's NodeRestriction refuses node %s the label %s: a node may set on itself no %s/ label and no kubernetes.io or k8s.io label outside the kubelet's own; "+
			"take it out of the cluster file (nodeagent validate names where) or set it from a server with kubectl: %w",
			node, strings.Join(refused, ", "), "node-restriction.kubernetes.io", err)
	}
	return fmt.Errorf("the apiserver refuses node %s its label patch (Node authorizer or NodeRestriction: a node's kubelet credentials may change only its own Node): %w", node, err)
}
