package manifests

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// LocalPathClass is k3s's default StorageClass (local-path-provisioner):
// a volume of it binds to the node its pod first ran on.
const LocalPathClass = "local-path"

// hostPathCapacity is the nominal size of hostPath volumes: the kubelet does
// not enforce it, it only has to cover the claim.
const hostPathCapacity = "1Ti"

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// deployment renders a. Apps with a ReadWriteOnce volume are recreated, not
// rolled: the new pod could not mount the volume the old one holds.
func (r *renderer) deployment(a app, tmpl corev1.PodTemplateSpec, rwoVolume bool) {
	d := &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: a.meta(a.name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(a.replicas()),
			Selector: &metav1.LabelSelector{MatchLabels: a.selector()},
			Template: tmpl,
		},
	}
	if rwoVolume {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	r.b.add(PhaseWorkloads, d)
}

// statefulSet renders a with its headless governing Service.
func (r *renderer) statefulSet(a app, tmpl corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim, governing string, ports []corev1.ContainerPort) {
	r.service(a, governing, corev1.ServiceTypeClusterIP, ports, true)
	r.b.add(PhaseWorkloads, statefulSetObject(a, tmpl, claims, governing, ""))
}

// replicatedSet renders a replicated app with state as a StatefulSet: the
// claim templates give each replica a volume of its own, and the replicas
// start, stop and get replaced in parallel, so a replica whose volume's node
// is down does not hold back the other (OrderedReady would wait for #0
// before starting #1). The policy is immutable, which is why the single-
// replica StatefulSets keep the default.
func (r *renderer) replicatedSet(a app, tmpl corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim) {
	governing := a.name + "-headless"
	r.service(a, governing, corev1.ServiceTypeClusterIP, nil, true)
	r.b.add(PhaseWorkloads, statefulSetObject(a, tmpl, claims, governing, appsv1.ParallelPodManagement))
}

func statefulSetObject(a app, tmpl corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim, governing string, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: a.meta(a.name),
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To(a.replicas()),
			ServiceName:          governing,
			Selector:             &metav1.LabelSelector{MatchLabels: a.selector()},
			Template:             tmpl,
			VolumeClaimTemplates: claims,
			PodManagementPolicy:  policy,
		},
	}
}

// exposed renders the app's LoadBalancer Service on its configured address,
// or a ClusterIP Service when it has none.
func (r *renderer) exposed(a app, ports []corev1.ContainerPort) {
	addr := r.c.Network.LoadBalancer.Addresses[a.name]
	if addr == "" {
		r.service(a, a.name, corev1.ServiceTypeClusterIP, ports, false)
		return
	}
	svc := r.serviceObject(a, a.name, corev1.ServiceTypeLoadBalancer, ports, false)
	svc.Annotations = map[string]string{loadBalancerIPsAnnotation(r.c): addr}
	if a.replicas() > 1 {
		// Keep client addresses (pihole per-client stats, proxy access
		// lists); MetalLB then announces from a node with a ready replica.
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	r.b.add(PhaseWorkloads, svc)
}

func (r *renderer) service(a app, name string, typ corev1.ServiceType, ports []corev1.ContainerPort, headless bool) {
	r.b.add(PhaseWorkloads, r.serviceObject(a, name, typ, ports, headless))
}

func (r *renderer) serviceObject(a app, name string, typ corev1.ServiceType, ports []corev1.ContainerPort, headless bool) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: a.meta(name),
		Spec:       corev1.ServiceSpec{Type: typ, Selector: a.selector()},
	}
	if headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Port: p.ContainerPort, Protocol: p.Protocol, TargetPort: intstr.FromString(p.Name),
		})
	}
	return svc
}

// localPathClaim is a ReadWriteOnce claim on k3s's local-path provisioner.
func localPathClaim(name, size string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(LocalPathClass),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

// hostPathVolume renders a PersistentVolume on a host directory of the disk
// and the claim pre-bound to it (volumeName, empty storageClassName, claimRef
// on the volume, so no other claim can take it). The volume also requires the
// app's HARD labels, and it is retained: deleting the claim never deletes
// photos.
func (r *renderer) hostPathVolume(a app, name, path string) {
	claim := a.meta(name)
	r.b.add(PhaseWorkloads, &corev1.PersistentVolume{
		TypeMeta:   typeMeta("v1", "PersistentVolume"),
		ObjectMeta: metav1.ObjectMeta{Name: a.name + "-" + name, Labels: a.selector()},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(hostPathCapacity)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef:                      &corev1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: a.ns, Name: name},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: path, Type: ptr.To(corev1.HostPathDirectory),
			}},
			NodeAffinity: volumeNodeAffinity(a),
		},
	})
	r.b.add(PhaseWorkloads, &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: claim,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(""),
			VolumeName:       a.name + "-" + name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(hostPathCapacity)}},
		},
	})
}

func volumeNodeAffinity(a app) *corev1.VolumeNodeAffinity {
	aff := affinity(app{name: a.name, w: a.w})
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return &corev1.VolumeNodeAffinity{Required: aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution}
}

func claimVolume(name, claim string, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly},
	}}
}

// cronJob renders a job that never runs twice at once and keeps a few
// finished pods for their logs.
func (r *renderer) cronJob(a app, tmpl corev1.PodTemplateSpec) {
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	r.b.add(PhaseWorkloads, &batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: a.meta(a.name),
		Spec: batchv1.CronJobSpec{
			Schedule:                   a.w.Schedule,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](2),
				Template:     tmpl,
			}},
		},
	})
}

func (r *renderer) daemonSet(a app, tmpl corev1.PodTemplateSpec) {
	r.b.add(PhaseWorkloads, &appsv1.DaemonSet{
		TypeMeta:   typeMeta("apps/v1", "DaemonSet"),
		ObjectMeta: a.meta(a.name),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: a.selector()},
			Template: tmpl,
		},
	})
}

func hostPathInline(name, path string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: path, Type: ptr.To(corev1.HostPathDirectory),
	}}}
}
