// Package kube talks to the cluster through the node's kubeconfig: it keeps
// the labels and annotations nodeagent owns on the Node in line with the
// hardware and the cluster file, and never touches keys a person set.
//
// It works on the Node's metadata only, through client-go's metadata client,
// so the daemon that links it stays free of client-go's typed clientset and
// its scheme of every API group (see cmd/nodeagentd).
package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// K3sKubeconfig is where k3s writes the admin kubeconfig on a server.
const K3sKubeconfig = "/etc/rancher/k3s/k3s.yaml"

// KubeletKubeconfig is the kubelet's kubeconfig, which k3s writes on every
// node (k3s pkg/agent/config/config.go): user system:node:<name> in group
// system:nodes, server the agent's load balancer https://127.0.0.1:6444. It
// is an agent's only Kubernetes credential, bounded by the Node authorizer
// and NodeRestriction: its own Node and the pods bound to it.
const KubeletKubeconfig = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"

// NodeKubeconfig is the kubeconfig nodeagent uses for this node's own
// Node: a server's admin k3s.yaml, an agent's kubelet kubeconfig (agents
// have no k3s.yaml).
func NodeKubeconfig(server bool) string {
	if server {
		return K3sKubeconfig
	}
	return KubeletKubeconfig
}

// client-go defaults to QPS 5 / Burst 10, sized for shared remote
// apiservers. nodeagent talks to the apiserver on its own node and applies a
// few hundred objects at start, so the default would throttle it for no gain.
const (
	localQPS   = 50
	localBurst = 100
)

var nodes = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// RestConfig loads a kubeconfig file (pass a host.Root-resolved path) and
// raises the client rate limits for a local apiserver.
func RestConfig(kubeconfigPath string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfigPath, err)
	}
	cfg.QPS, cfg.Burst = localQPS, localBurst
	cfg.UserAgent = "nodeagent"
	return cfg, nil
}

// NewMetadataClient returns a metadata client for the kubeconfig at
// kubeconfigPath.
func NewMetadataClient(kubeconfigPath string) (metadata.Interface, error) {
	cfg, err := RestConfig(kubeconfigPath)
	if err != nil {
		return nil, err
	}
	c, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating metadata client for %s: %w", kubeconfigPath, err)
	}
	return c, nil
}

// GetNode reads the metadata of the Node called name; a missing Node is an
// apierrors NotFound.
func GetNode(ctx context.Context, client metadata.Interface, name string) (*metav1.PartialObjectMetadata, error) {
	n, err := client.Resource(nodes).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading node %s: %w", name, err)
	}
	return n, nil
}
