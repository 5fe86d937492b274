package main

import (
	"context"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The kubelet inside k3s keeps a Lease kube-node-lease/<node> renewed as
// its heartbeat: 40 s long, renewed every quarter of that (kubelet's
// NodeLeaseDurationSeconds and nodeLeaseRenewIntervalFraction, through
// k8s.io/component-helpers/apimachinery/lease). Tools judge a node alive
// by seeing that Lease renewed, so the stand-in renews it too, and stops
// when the process stops, as a dead Pi's kubelet does.
const (
	nodeLeaseNamespace = "kube-node-lease"
	nodeLeaseSeconds   = 40
	nodeLeaseRenew     = nodeLeaseSeconds * time.Second / 4
)

// renewLease creates and renews the node's Lease until ctx ends.
func (k *kubeletNode) renewLease(ctx context.Context, cs kubernetes.Interface) {
	tick := time.NewTicker(nodeLeaseRenew)
	defer tick.Stop()
	for {
		if err := k.renewLeaseOnce(ctx, cs); err != nil && ctx.Err() == nil {
			k.log.Warn("renewing the node lease", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (k *kubeletNode) renewLeaseOnce(ctx context.Context, cs kubernetes.Interface) error {
	leases := cs.CoordinationV1().Leases(nodeLeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: nodeLeaseNamespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.name),
				LeaseDurationSeconds: ptr.To(int32(nodeLeaseSeconds)), RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = ptr.To(k.name), ptr.To(int32(nodeLeaseSeconds)), &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}
