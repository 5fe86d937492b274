package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// K3sControllerKubeconfig is the kubeconfig of k3s's agent controller,
// which k3s writes on every node (k3s pkg/agent/config/config.go; user
// system:k3s-controller, shared by all agents). k3s's ClusterRole for it
// (manifests/rolebindings.yaml, system:k3s-controller) grants get on Nodes, which lets an agent read the servers' versions: its
// kubelet's credentials may read only its own Node (Node authorizer).
const K3sControllerKubeconfig = "/var/lib/rancher/k3s/agent/k3scontroller.kubeconfig"

// KubeletVersions reads status.nodeInfo.kubeletVersion of the named Nodes,
// one get each (the agent controller may get Nodes, not list them). A
// missing Node is missing from the map.
func KubeletVersions(ctx context.Context, client dynamic.Interface, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range names {
		n, err := client.Resource(nodes).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the version of node %s: %w", name, err)
		}
		v, _, err := unstructured.NestedString(n.Object, "status", "nodeInfo", "kubeletVersion")
		if err != nil {
			return nil, fmt.Errorf("reading the version of node %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}
