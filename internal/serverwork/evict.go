package serverwork

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/nodeagent/nodeagent/internal/host"
)

// mirrorPodAnnotation marks a static pod's mirror, which only its kubelet
// can remove (k8s.io/api/core/v1 MirrorPodAnnotationKey).
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// evictAll evicts every pod of the node through the eviction API, so
// PodDisruptionBudgets are honoured, retrying those a budget holds back
// (429) until evictWait. Like `kubectl drain --ignore-daemonsets`, it leaves
// DaemonSet pods (their controller would put them back) and mirror pods.
//
// It does not wait for the pods to end: the node is gone, so no kubelet
// will confirm their deletion; kube-controller-manager's pod GC deletes
// the pods of a deleted Node (pkg/controller/podgc, gcOrphaned).
func (r *NodeRemover) evictAll(ctx context.Context, node string) error {
	pending := map[string]error{}
	err := host.PollUntil(ctx, r.Clock, "evicting the pods of "+node, orDefault(r.EvictWait, evictWait), removePoll,
		func(ctx context.Context) (bool, error) {
			pods, err := r.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
			if err != nil {
				return false, fmt.Errorf("listing the pods of %s: %w", node, err)
			}
			clear(pending)
			for i := range pods.Items {
				p := &pods.Items[i]
				if !evictable(p) {
					continue
				}
				if err := r.evict(ctx, p); err != nil {
					pending[p.Namespace+"/"+p.Name] = err
				}
			}
			if len(pending) > 0 {
				return false, pendingErr(pending)
			}
			return true, nil
		})
	if err != nil && len(pending) > 0 && ctx.Err() == nil {
		return fmt.Errorf("pods of %s not evicted after %s: %w", node, orDefault(r.EvictWait, evictWait), pendingErr(pending))
	}
	return err
}

// evictable: not already going, and a pod a drain takes away.
func evictable(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && drainTarget(p)
}

// drainTarget: not a DaemonSet's, not a mirror pod.
func drainTarget(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[mirrorPodAnnotation]; mirror {
		return false
	}
	if c := metav1.GetControllerOf(p); c != nil && c.Kind == "DaemonSet" {
		return false
	}
	return true
}

func (r *NodeRemover) evict(ctx context.Context, p *corev1.Pod) error {
	// One hung request must not eat the whole wait.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := r.Client.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
	})
	switch {
	case err == nil:
		r.Log.Info("pod evicted", zap.String("pod", p.Namespace+"/"+p.Name))
		return nil
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsTooManyRequests(err):
		return fmt.Errorf("held back by a PodDisruptionBudget: %w", err)
	}
	return fmt.Errorf("evicting: %w", err)
}

// pendingErr names each pod not evicted yet with why, in a stable order.
func pendingErr(pending map[string]error) error {
	keys := make([]string, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " (" + pending[k].Error() + ")"
	}
	return errors.New(strings.Join(parts, ", "))
}
