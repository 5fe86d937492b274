package manifests

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeagent/nodeagent/internal/config"
)

// LabelHostname is the node label SOFT placement prefers nodes by.
const LabelHostname = "kubernetes.io/hostname"

// resources are the configured requests and the derived memory limit
// (request ×1.5, see the package doc); no CPU limit.
func resources(c config.Capacity) corev1.ResourceRequirements {
	var rr corev1.ResourceRequirements
	if c.Memory == "" && c.CPU == "" {
		return rr
	}
	rr.Requests = corev1.ResourceList{}
	if q, err := resource.ParseQuantity(c.CPU); err == nil {
		rr.Requests[corev1.ResourceCPU] = q
	}
	if q, err := resource.ParseQuantity(c.Memory); err == nil {
		rr.Requests[corev1.ResourceMemory] = q
		rr.Limits = corev1.ResourceList{corev1.ResourceMemory: MemoryLimit(q)}
	}
	return rr
}

// MemoryLimit is the limit derived from a memory request: ×1.5, rounded up
// to a whole MiB.
func MemoryLimit(request resource.Quantity) resource.Quantity {
	const mib = 1 << 20
	limit := (request.Value()*3/2 + mib - 1) / mib
	return *resource.NewQuantity(limit*mib, resource.BinarySI)
}

// affinity turns Require into required node affinity (HARD), Prefer into
// preferred node affinity by hostname in falling weights (SOFT), and spreads
// replicas over nodes without forbidding two on one node, so both replicas
// survive on the remaining node after a failure.
func affinity(a app) *corev1.Affinity {
	var aff corev1.Affinity
	if len(a.w.Require) > 0 {
		var exprs []corev1.NodeSelectorRequirement
		for _, k := range config.SortedKeys(a.w.Require) {
			exprs = append(exprs, corev1.NodeSelectorRequirement{Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{a.w.Require[k]}})
		}
		aff.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}},
		}}
	}
	if len(a.w.Prefer) > 0 {
		if aff.NodeAffinity == nil {
			aff.NodeAffinity = &corev1.NodeAffinity{}
		}
		for i, node := range a.w.Prefer {
			aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.PreferredSchedulingTerm{Weight: int32(max(100-10*i, 1)), Preference: corev1.NodeSelectorTerm{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
				}})
		}
	}
	if a.replicas() > 1 {
		aff.PodAntiAffinity = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:   LabelHostname,
				LabelSelector: &metav1.LabelSelector{MatchLabels: a.selector()},
			},
		}}}
	}
	if aff.NodeAffinity == nil && aff.PodAntiAffinity == nil {
		return nil
	}
	return &aff
}

func spread(a app) []corev1.TopologySpreadConstraint {
	if a.replicas() < 2 {
		return nil
	}
	return []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: a.selector()},
	}}
}

// container is the app's main container with image, requests, environment
// (config env sorted, then fixed env), the Secret as envFrom and the app's
// probes (probes.go).
func container(a app, env []corev1.EnvVar, ports ...corev1.ContainerPort) corev1.Container {
	var all []corev1.EnvVar
	for _, k := range config.SortedKeys(a.w.Env) {
		all = append(all, corev1.EnvVar{Name: k, Value: a.w.Env[k]})
	}
	all = append(all, env...)
	c := corev1.Container{
		Name:            a.name,
		Image:           a.w.Image,
		Ports:           ports,
		Env:             all,
		Resources:       resources(a.w.Resources),
		SecurityContext: profiles[a.name].securityContext(),
	}
	if a.w.SecretName != "" {
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: a.w.SecretName}}}}
	}
	return withHealth(a, c)
}

// podTemplate wraps containers with the app's placement and the pod-level
// hardening. Service links are off: Kubernetes would inject IMMICH_SERVER_PORT
// style variables that immich reads as its own settings.
func podTemplate(a app, volumes []corev1.Volume, containers ...corev1.Container) corev1.PodTemplateSpec {
	p := profiles[a.name]
	scratch, mounts := p.writableVolumes()
	for i := range containers {
		containers[i].VolumeMounts = append(containers[i].VolumeMounts, mounts...)
	}
	spec := corev1.PodSpec{
		Containers:                   containers,
		Volumes:                      append(volumes, scratch...),
		Affinity:                     affinity(a),
		TopologySpreadConstraints:    spread(a),
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
	}
	if p.user != nil && *p.user != 0 {
		// Volumes (local-path dirs, emptyDirs) become writable for the user.
		spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: p.user}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: a.selector()}, Spec: spec}
}

func tcp(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

// servicePorts are the app's LoadBalancer ports from the config's spec.
func servicePorts(name string) []corev1.ContainerPort {
	spec, _ := config.LookupWorkload(name)
	var out []corev1.ContainerPort
	for _, p := range spec.Ports {
		out = append(out, corev1.ContainerPort{Name: p.Name, ContainerPort: int32(p.Port), Protocol: corev1.Protocol(p.Protocol)})
	}
	return out
}

func sortedEnv(m map[string]string) []corev1.EnvVar {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]corev1.EnvVar, 0, len(keys))
	for _, k := range keys {
		out = append(out, corev1.EnvVar{Name: k, Value: m[k]})
	}
	return out
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}
