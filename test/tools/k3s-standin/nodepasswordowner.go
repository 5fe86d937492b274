package main

import (
	"context"
	"slices"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// k3s's pkg/nodepassword/controller.go onChangeNode gives a node's password
// Secret an owner reference to its Node once the Node exists; the
// kube-controller-manager's garbage collector then deletes the Secret with
// the Node. The stand-in has no garbage collector, so onNodeDeleted does
// its part for these Secrets only: it deletes the Secret owned by the
// deleted Node's UID (never one made afresh, without that owner, by an
// agent that came back after the deletion).

func ownedBy(s *corev1.Secret, node *corev1.Node) bool {
	return slices.ContainsFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool {
		return r.Kind == "Node" && r.Name == node.Name && r.UID == node.UID
	})
}

// ownNodePassword adds the Node's owner reference to its password Secret.
func ownNodePassword(ctx context.Context, cs kubernetes.Interface, node *corev1.Node) error {
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	s, err := secrets.Get(ctx, nodePasswordSecretName(node.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || ownedBy(s, node) {
		return err
	}
	s.OwnerReferences = append(s.OwnerReferences, metav1.OwnerReference{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID})
	_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	return err
}

// onNodeDeleted is the garbage collector's deletion of the Secret owned by
// the deleted Node.
func onNodeDeleted(ctx context.Context, cs kubernetes.Interface, node *corev1.Node, log *zap.Logger) {
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	s, err := secrets.Get(ctx, nodePasswordSecretName(node.Name), metav1.GetOptions{})
	if err != nil || !ownedBy(s, node) {
		return
	}
	err = secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Warn("deleting the node-password secret of a deleted node", zap.String("node", node.Name), zap.Error(err))
		return
	}
	log.Info("deleted the node-password secret of a deleted node", zap.String("node", node.Name))
}

// watchNodePasswords runs ownNodePassword on every Node event and
// onNodeDeleted on deletions, on every server (both are idempotent).
func (s *server) watchNodePasswords(ctx context.Context, cs kubernetes.Interface, inf cache.SharedIndexInformer) {
	log := s.log.With(zap.String("component", "node-password"))
	own := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			if err := ownNodePassword(ctx, cs, n); err != nil && ctx.Err() == nil {
				log.Info("adding the node owner reference to its node-password secret", zap.String("node", n.Name), zap.Error(err))
			}
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    own,
		UpdateFunc: func(_, n any) { own(n) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				onNodeDeleted(ctx, cs, n, log)
			}
		},
	})
}
