package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/ptr"
)

// local-path storage as k3s ships it (manifests/local-storage.yaml, applied
// by k3s's deploy controller; rancher/local-path-provisioner does the
// provisioning). The stand-in plays the provisioner's API part only.
const (
	localPathClass       = "local-path"
	localPathProvisioner = "rancher.io/local-path"
	// localPathDir is the path on the node (k3s's nodePathMap default); it
	// is written into the PV as the node would see it, not relocated.
	localPathDir        = "/var/lib/rancher/k3s/storage"
	selectedNodeAnn     = "volume.kubernetes.io/selected-node"
	storageProvisionAnn = "volume.kubernetes.io/storage-provisioner"
	provisionedByAnn    = "pv.kubernetes.io/provisioned-by"
)

// localPathStorageClass is the StorageClass of manifests/local-storage.yaml.
func localPathStorageClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: localPathClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       localPathProvisioner,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
	}
}

// ensureLocalPathClass creates the StorageClass when it is missing, as
// k3s's deploy controller applies the manifest on every server.
func ensureLocalPathClass(ctx context.Context, cs kubernetes.Interface) error {
	_, err := cs.StorageV1().StorageClasses().Create(ctx, localPathStorageClass(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// runLocalPathProvisioner provisions under a Lease, so one server is
// active, as the single local-path-provisioner Deployment is: a PVC of the
// class that the scheduler gave a node (selected-node) gets a hostPath PV
// bound to it by claimRef, which the controller-manager's PV controller
// then binds; a released PV it provisioned is deleted (reclaim Delete).
// It polls every 2 s instead of watching.
func (s *server) runLocalPathProvisioner(ctx context.Context, cs kubernetes.Interface) {
	log := s.log.With(zap.String("component", "local-path-provisioner"))
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: "rancher.io-local-path", Namespace: "kube-system"},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: host + "_" + s.cfg.NodeName},
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		ReleaseOnCancel: true, Name: localPathProvisioner,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("leading")
				for {
					if err := provisionOnce(ctx, cs, log); err != nil && ctx.Err() == nil {
						log.Info("provisioning", zap.Error(err))
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(2 * time.Second):
					}
				}
			},
			OnStoppedLeading: func() { log.Info("stopped leading") },
		},
	})
}

func provisionOnce(ctx context.Context, cs kubernetes.Interface, log *zap.Logger) error {
	pvcs, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if pv := localPathPV(pvc); pv != nil {
			_, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
			if err == nil {
				log.Info("provisioned", zap.String("pv", pv.Name), zap.String("pvc", pvc.Namespace+"/"+pvc.Name),
					zap.String("node", pvc.Annotations[selectedNodeAnn]))
			} else if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating %s: %w", pv.Name, err)
			}
		}
	}
	pvs, err := cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pv := range pvs.Items {
		if pv.Annotations[provisionedByAnn] == localPathProvisioner && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete && pv.DeletionTimestamp == nil {
			if err := cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting %s: %w", pv.Name, err)
			}
			log.Info("deleted", zap.String("pv", pv.Name))
		}
	}
	return nil
}

// localPathPV is the PV local-path-provisioner makes for pvc, or nil when
// pvc is not one to provision (pure).
func localPathPV(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	node := pvc.Annotations[selectedNodeAnn]
	if pvc.Spec.VolumeName != "" || node == "" || pvc.DeletionTimestamp != nil ||
		pvc.Annotations[storageProvisionAnn] != localPathProvisioner {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{provisionedByAnn: localPathProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              localPathClass,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: path.Join(localPathDir, name+"_"+pvc.Namespace+"_"+pvc.Name),
				Type: ptr.To(corev1.HostPathDirectoryOrCreate)}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname,
					Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}},
		},
	}
}
