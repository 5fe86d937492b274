package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
