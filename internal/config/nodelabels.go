package config

import (
	"fmt"
	"strings"
)

// The labels a node may set on its own Node. Two places in Kubernetes hold
// the same rule, and both bite nodeagent:
//
//   - the kubelet refuses to start when --node-labels (k3s's node-label,
//     where the static labels go on every role) holds a kubernetes.io or
//     k8s.io label outside its own set (cmd/kubelet/app/options/options.go,
//     ValidateKubeletFlags);
//   - the NodeRestriction admission plugin refuses a node identity such a
//     label and any node-restriction.kubernetes.io one
//     (plugin/pkg/admission/noderestriction/admission.go,
//     getForbiddenLabels), which is what an agent's nodeagent writes with.
//
// The set is k8s.io/kubelet pkg/apis/well_known_labels.go (IsKubeletLabel)
// at v1.37; kube.TestNodeRestrictionAgreesWithValidate holds this copy to
// what the real apiserver refuses.
var (
	kubeletLabels = map[string]bool{
		"kubernetes.io/hostname":                   true,
		"topology.kubernetes.io/zone":              true,
		"topology.kubernetes.io/region":            true,
		"failure-domain.beta.kubernetes.io/zone":   true,
		"failure-domain.beta.kubernetes.io/region": true,
		"beta.kubernetes.io/instance-type":         true,
		"node.kubernetes.io/instance-type":         true,
		"kubernetes.io/os":                         true,
		"kubernetes.io/arch":                       true,
		"beta.kubernetes.io/os":                    true,
		"beta.kubernetes.io/arch":                  true,
	}
	kubeletLabelNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}
)

const nodeRestrictionNamespace = "node-restriction.kubernetes.io"

// KubeletRefusesLabel says why a kubelet refuses label key in
// --node-labels, and NodeRestriction refuses it to a node identity; ""
// when both accept it.
func KubeletRefusesLabel(key string) string {
	ns, _, ok := strings.Cut(key, "/")
	if !ok || !inNamespace(ns, "kubernetes.io", "k8s.io") || kubeletLabels[key] || inNamespace(ns, kubeletLabelNamespaces...) {
		return ""
	}
	if inNamespace(ns, nodeRestrictionNamespace) {
		return "the " + nodeRestrictionNamespace + "/ prefix is for labels only an administrator sets, never the node itself"
	}
	return fmt.Sprintf("kubernetes.io and k8s.io labels are reserved: a node may set on itself only those under %s/ or one of %s",
		strings.Join(kubeletLabelNamespaces, "/, "), strings.Join(SortedKeys(kubeletLabels), ", "))
}

// inNamespace: ns is one of namespaces or a subdomain of one.
func inNamespace(ns string, namespaces ...string) bool {
	for _, n := range namespaces {
		if ns == n || strings.HasSuffix(ns, "."+n) {
			return true
		}
	}
	return false
}

// validateNodeSelfLabels refuses the labels a node could never carry by
// its own hand: static labels on every role (k3s hands them to the
// kubelet's --node-labels, and the kubelet does not start), and on an
// agent, whose nodeagent writes with the kubelet's credentials, the labels
// of its disks and of every USB rule (the daemon matches all rules on
// every node).
func validateNodeSelfLabels(p *problems, c *Cluster) {
	anyAgent := false
	for i, n := range c.Nodes {
		field := fmt.Sprintf("nodes[%d]", i)
		refuse(p, field+".labels", n.Labels, "k3s passes static labels to the kubelet's --node-labels, and the kubelet refuses to start with it")
		if n.Role != RoleAgent {
			continue
		}
		anyAgent = true
		for j, d := range n.Disks {
			refuse(p, fmt.Sprintf("%s.disks[%d].labels", field, j), d.Labels,
				fmt.Sprintf("%s is an agent: nodeagent writes its labels with the kubelet's credentials, and NodeRestriction refuses it", n.Name))
		}
	}
	if !anyAgent {
		return
	}
	for i, r := range c.USB.Rules {
		refuse(p, fmt.Sprintf("usb.rules[%d].labels", i), r.Labels,
			"the cluster has agents, which write USB labels with the kubelet's credentials, and NodeRestriction refuses it")
	}
}

func refuse(p *problems, field string, labels map[string]string, why string) {
	for _, k := range SortedKeys(labels) {
		if reason := KubeletRefusesLabel(k); reason != "" {
			p.add(field+"."+k, "label %s: %s; %s", k, why, reason)
		}
	}
}
