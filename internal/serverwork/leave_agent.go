package serverwork

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// podsGoneWait bounds the wait for the kubelet to end the evicted pods
// before k3s-agent stops: after that the pods' deletion waits for
// remove-node, and pod GC, on a server.
const podsGoneWait = 2 * time.Minute

// AgentLeaver takes the agent it runs on out of the cluster with the only
// credentials an agent has, its kubelet's (kube.KubeletKubeconfig). The
// Node authorizer and NodeRestriction let that identity read and cordon
// its own Node and list and evict the pods bound to it, but not delete any
// Node (bootstrappolicy NodeRules grant no delete on nodes;
// test/harness/apiserver TestWhatANodeMayDo), so the Node's deletion is
// tried and, when refused, asked of the servers (kube.LeaveRequestLabel,
// RemoveLeftAgent).
type AgentLeaver struct {
	Client kubernetes.Interface // with the kubelet's credentials
	Clock  host.Clock
	Log    *zap.Logger
	Self   string
	// EvictWait and PodsGoneWait override the defaults (tests).
	EvictWait, PodsGoneWait time.Duration
}

// AgentLeft is what an agent's leave did, and what a server must finish.
type AgentLeft struct {
	NodeDeleted bool
	// Requested: the Node carries kube.LeaveRequestLabel for a server to
	// delete it.
	Requested bool
	// Remaining says what is left and how, "" when nothing is.
	Remaining string
}

// Leave reads this agent's Node (nothing changes when it cannot), calls
// committed (which stops what would bring the node back), cordons the
// Node, evicts its pods through the eviction API (PodDisruptionBudgets
// honoured up to EvictWait; DaemonSet and mirror pods left, as
// `kubectl drain --ignore-daemonsets`), waits for the kubelet to end them,
// and deletes the Node if the apiserver lets it. Stopping k3s-agent is the
// caller's, after: the kubelet must run while the pods end.
func (l *AgentLeaver) Leave(ctx context.Context, committed func() error, status func(string)) (AgentLeft, error) {
	node, err := l.Client.CoreV1().Nodes().Get(ctx, l.Self, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		status("Node " + l.Self + " is gone already")
		return AgentLeft{NodeDeleted: true}, committed()
	}
	if err != nil {
		return AgentLeft{}, fmt.Errorf("reading Node %s with the kubelet's credentials: %w", l.Self, err)
	}
	if err := committed(); err != nil {
		return AgentLeft{}, err
	}
	r := &NodeRemover{Client: l.Client, Clock: l.Clock, Log: l.Log, Self: l.Self, EvictWait: l.EvictWait}
	status("cordoning " + l.Self)
	if err := r.cordon(ctx, node); err != nil {
		return AgentLeft{}, err
	}
	status("evicting the pods of " + l.Self)
	if err := r.evictAll(ctx, l.Self); err != nil {
		return AgentLeft{}, fmt.Errorf("%w; the node stays cordoned, run leave again once they can go", err)
	}
	status("waiting for the kubelet to end the evicted pods")
	if err := l.waitPodsGone(ctx); err != nil {
		l.Log.Warn("evicted pods still ending: stopping k3s-agent anyway", zap.Error(err))
		status("some evicted pods have not ended (" + err.Error() + "); they go with the Node")
	}
	return l.deleteNode(ctx, node, status)
}

// deleteNode deletes this agent's Node, which makes k3s delete the node's
// password Secret, so a re-flashed Pi of the same name can join again.
func (l *AgentLeaver) deleteNode(ctx context.Context, node *corev1.Node, status func(string)) (AgentLeft, error) {
	status("deleting Node " + l.Self)
	err := l.Client.CoreV1().Nodes().Delete(ctx, l.Self, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}})
	switch {
	case err == nil || apierrors.IsNotFound(err):
		return AgentLeft{NodeDeleted: true}, nil
	case apierrors.IsForbidden(err):
		l.Log.Info("the apiserver refuses a node deleting its own Node: asking the servers", zap.Error(err))
		if err := requestLeave(ctx, l.Client, l.Self); err != nil {
			return AgentLeft{}, err
		}
		return AgentLeft{Requested: true, Remaining: fmt.Sprintf("Node %s is cordoned and drained; no node may delete a Node, its own included "+
			"(Node authorizer), so it carries %s: a server's nodeagent deletes it once its heartbeat is a minute old "+
			"(`nodeagent remove-node %s` on a server does it now), and k3s then its node password Secret, "+
			"so a re-flashed Pi of that name can join again", l.Self, kube.LeaveRequestSelector(), l.Self)}, nil
	}
	return AgentLeft{}, fmt.Errorf("deleting Node %s: %w", l.Self, err)
}

// waitPodsGone waits until no pod that evictAll evicts is bound to this
// node any more (the kubelet ends each and deletes it).
func (l *AgentLeaver) waitPodsGone(ctx context.Context) error {
	return host.PollUntil(ctx, l.Clock, "the evicted pods of "+l.Self+" ending", orDefault(l.PodsGoneWait, podsGoneWait), removePoll,
		func(ctx context.Context) (bool, error) {
			pods, err := l.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("spec.nodeName", l.Self).String()})
			if err != nil {
				return false, fmt.Errorf("listing the pods of %s: %w", l.Self, err)
			}
			left := 0
			for i := range pods.Items {
				if drainTarget(&pods.Items[i]) {
					left++
				}
			}
			if left > 0 {
				return false, fmt.Errorf("%d pods still ending", left)
			}
			return true, nil
		})
}

// requestLeave labels this agent's Node kube.LeaveRequestLabel, which
// NodeRestriction lets a node set on itself. Here and not in package kube,
// which the resident daemon links without client-go's clientset.
func requestLeave(ctx context.Context, client kubernetes.Interface, node string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{kube.LeaveRequestLabel: kube.LeaveRequested}}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("labelling Node %s %s: %w", node, kube.LeaveRequestSelector(), err)
	}
	return nil
}
