package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLocalPathPV(t *testing.T) {
	pvc := func(ann map[string]string, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "u1", Annotations: ann},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("2Gi")}}},
		}
	}
	ours := map[string]string{storageProvisionAnn: localPathProvisioner, selectedNodeAnn: "pi4-1"}
	pv := localPathPV(pvc(ours, ""))
	if pv == nil {
		t.Fatal("no PV for a claim with a selected node")
	}
	if pv.Name != "pvc-u1" || pv.Spec.HostPath.Path != "/var/lib/rancher/k3s/storage/pvc-u1_ns_data" ||
		pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "pi4-1" ||
		pv.Spec.Capacity.Storage().String() != "2Gi" || pv.Spec.ClaimRef.UID != "u1" ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.StorageClassName != "local-path" {
		t.Errorf("pv = %+v", pv.Spec)
	}
	for name, c := range map[string]*corev1.PersistentVolumeClaim{
		"no node yet":        pvc(map[string]string{storageProvisionAnn: localPathProvisioner}, ""),
		"other provisioner":  pvc(map[string]string{storageProvisionAnn: "ebs.csi.aws.com", selectedNodeAnn: "pi4-1"}, ""),
		"already bound to a": pvc(ours, "pv-x"),
	} {
		if localPathPV(c) != nil {
			t.Errorf("%s: a PV was made", name)
		}
	}
}

func TestCloudInitialized(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "a1", Annotations: map[string]string{internalIPAnnotation: "10.0.0.5", hostnameAnnotation: "a1"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "node.cloudprovider.kubernetes.io/uninitialized", Effect: corev1.TaintEffectNoSchedule},
			{Key: "dedicated", Value: "zigbee", Effect: corev1.TaintEffectNoSchedule}}},
	}
	got := cloudInitialized(n)
	if len(got.Spec.Taints) != 1 || got.Spec.Taints[0].Key != "dedicated" || got.Spec.ProviderID != "k3s://a1" ||
		got.Labels["node.kubernetes.io/instance-type"] != "k3s" || len(got.Status.Addresses) != 2 ||
		got.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}) {
		t.Errorf("initialized node = %+v %+v", got.Spec, got.Status.Addresses)
	}
	if len(n.Spec.Taints) != 2 {
		t.Error("the input node was changed")
	}
}
