package main

import (
	"context"
	"slices"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// watchNotReadyTaints does the one thing of the kube-controller-manager's
// node-lifecycle controller the stand-in needs: the TaintNodesByCondition
// admission plugin gives every new Node node.kubernetes.io/not-ready, and
// the controller removes it once the Node reports Ready. A node cannot do
// it itself (NodeRestriction refuses a node's taint changes), so every
// server does it, with its admin client, for every Node.
func (s *server) watchNotReadyTaints(ctx context.Context, cs kubernetes.Interface, inf cache.SharedIndexInformer) {
	log := s.log.With(zap.String("component", "node-lifecycle"))
	clear := func(obj any) {
		n, ok := obj.(*corev1.Node)
		if !ok || !isReady(n) || !slices.ContainsFunc(n.Spec.Taints, isNotReadyTaint) {
			return
		}
		n = n.DeepCopy()
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, isNotReadyTaint)
		if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			// A conflict comes back as an update event, with the next version.
			log.Info("removing the not-ready taint", zap.String("node", n.Name), zap.Error(err))
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: clear, UpdateFunc: func(_, n any) { clear(n) }})
}

func isNotReadyTaint(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady }

func isReady(n *corev1.Node) bool {
	return slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	})
}
