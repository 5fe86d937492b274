package serverwork

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// RemoveLeftAgent deletes the Node of an agent that asked for it when it
// left (kube.LeaveRequestLabel, which only the node itself can set under
// NodeRestriction). It is remove-node without --force: refused while the
// agent's kubelet still renews its heartbeat, so the agent's leave must have
// stopped k3s-agent first (else the kubelet would register the Node again).
// Several servers may act on one request: a Node already gone is done.
func (p *Work) RemoveLeftAgent(ctx context.Context, name string, status func(string)) error {
	if n, ok := p.cfg.Cluster.Node(name); !ok || n.Role != config.RoleAgent {
		return fmt.Errorf("%s is not an agent of the cluster file: a server leaves with `nodeagent leave` on itself", name)
	}
	client, err := p.clientset()
	if err != nil {
		return err
	}
	node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		status("Node " + name + " is gone already")
		return nil
	case err != nil:
		return fmt.Errorf("reading Node %s: %w", name, err)
	case node.Labels[kube.LeaveRequestLabel] != kube.LeaveRequested:
		return fmt.Errorf("the Node of %s has not asked to leave (no %s)", name, kube.LeaveRequestSelector())
	}
	status("agent " + name + " asked to leave: removing its Node")
	err = p.RemoveNode(ctx, name, false, status)
	if err != nil {
		if _, getErr := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(getErr) {
			status("Node " + name + " was removed by another server")
			return nil
		}
	}
	return err
}
