// Package kube talks to the cluster through the node's kubeconfig: it keeps
// the labels and annotations nodeagent owns on the Node in line with the
// hardware and the cluster file, and never touches keys a person set.
package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// K3sKubeconfig is where k3s writes the admin kubeconfig on a server.
const K3sKubeconfig = "/etc/rancher/k3s/k3s.yaml"

// client-go defaults to QPS 5 / Burst 10, sized for shared remote
// apiservers. nodeagent talks to the apiserver on its own node and applies a
// few hundred objects at start, so the default would throttle it for no gain.
const (
	localQPS   = 50
	localBurst = 100
)

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

// NewClientset returns a clientset for the kubeconfig at kubeconfigPath.
func NewClientset(kubeconfigPath string) (kubernetes.Interface, error) {
	cfg, err := RestConfig(kubeconfigPath)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating kubernetes client for %s: %w", kubeconfigPath, err)
	}
	return cs, nil
}
