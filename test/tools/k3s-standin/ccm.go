package main

import (
	"context"
	"slices"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	cloudproviderapi "k8s.io/cloud-provider/api"
)

// Annotations k3s's agent writes on its Node at every start
// (pkg/agent/run.go updateAddressAnnotations) for its cloud provider.
const (
	internalIPAnnotation = "k3s.io/internal-ip"
	hostnameAnnotation   = "k3s.io/hostname"
)

// initializeNodes is the part of k3s's embedded cloud controller manager
// the stand-in plays (pkg/cloudprovider/instances.go InstanceMetadata, run
// by k8s.io/cloud-provider's cloud-node controller): the kubelet runs with
// --cloud-provider=external, so every new Node carries the
// node.cloudprovider.kubernetes.io/uninitialized taint and no addresses
// until the cloud controller gives it its addresses (from the annotations
// above), the provider ID k3s://<node>, the instance-type label "k3s", and
// removes the taint. Every server does it for every Node (k3s runs it under
// a leader lease; the writes are the same whoever makes them).
func (s *server) initializeNodes(ctx context.Context, cs kubernetes.Interface, inf cache.SharedIndexInformer) {
	log := s.log.With(zap.String("component", "cloud-node"))
	init := func(obj any) {
		n, ok := obj.(*corev1.Node)
		if !ok || !slices.ContainsFunc(n.Spec.Taints, isUninitializedTaint) || n.Annotations[internalIPAnnotation] == "" {
			return
		}
		n = cloudInitialized(n)
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			if ctx.Err() == nil {
				log.Info("setting the node's addresses", zap.String("node", n.Name), zap.Error(err))
			}
			return
		}
		// Update returns the next version, so read the Node again through
		// the next event: the spec and labels follow in a second write.
		latest, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return
		}
		latest = cloudInitialized(latest)
		if _, err := cs.CoreV1().Nodes().Update(ctx, latest, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			log.Info("initializing the node", zap.String("node", n.Name), zap.Error(err))
			return
		}
		log.Info("node initialized", zap.String("node", n.Name))
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: init, UpdateFunc: func(_, n any) { init(n) }})
}

// cloudInitialized is n as the cloud-node controller leaves it (pure).
func cloudInitialized(n *corev1.Node) *corev1.Node {
	n = n.DeepCopy()
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.Annotations[internalIPAnnotation]}}
	if h := n.Annotations[hostnameAnnotation]; h != "" {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: h})
	}
	if n.Spec.ProviderID == "" {
		n.Spec.ProviderID = "k3s://" + n.Name
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels[corev1.LabelInstanceTypeStable] = "k3s"
	n.Labels[corev1.LabelInstanceType] = "k3s"
	n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, isUninitializedTaint)
	return n
}

func isUninitializedTaint(t corev1.Taint) bool {
	return t.Key == cloudproviderapi.TaintExternalCloudProvider
}
