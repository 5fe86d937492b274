package kube

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// LeaveRequestLabel is the label an agent puts on its own Node when it
// leaves: the Node authorizer lets no node delete a Node, its own included,
// but NodeRestriction lets it label itself, so the request is how a server
// learns to delete the Node for it. A label rather than an annotation, so
// the servers can ask for the requests with a label selector.
const (
	LeaveRequestLabel = "nodeagent.dev/leave"
	LeaveRequested    = "requested"
)

// RequestLeave labels node with LeaveRequestLabel through client, which may
// hold only that node's kubelet credentials.
func RequestLeave(ctx context.Context, client kubernetes.Interface, node string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{LeaveRequestLabel: LeaveRequested}}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("labelling Node %s %s=%s: %w", node, LeaveRequestLabel, LeaveRequested, err)
	}
	return nil
}

// LeaveRequestSelector selects the Nodes that asked to be deleted.
func LeaveRequestSelector() string { return LeaveRequestLabel + "=" + LeaveRequested }

// NodesAskingToLeave lists the names of the Nodes carrying
// LeaveRequestLabel, through a metadata client with a server's credentials.
func NodesAskingToLeave(ctx context.Context, client metadata.Interface) ([]string, error) {
	list, err := client.Resource(nodes).List(ctx, metav1.ListOptions{LabelSelector: LeaveRequestSelector()})
	if err != nil {
		return nil, fmt.Errorf("listing Nodes that asked to leave: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	return names, nil
}
