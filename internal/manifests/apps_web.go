package manifests

import (
	"path"

	"github.com/nodeagent/nodeagent/internal/config"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// beszelAgentPort is where the hub reaches each node's agent (host network);
// the firewall opens the same port between nodes, from the same table.
func beszelAgentPort() int32 {
	spec, _ := config.LookupWorkload("beszel-agent")
	return int32(spec.HostPorts[0].Port)
}

func (r *renderer) beszel(a app) {
	ports := servicePorts(a.name)
	c := withReadiness(container(a, nil, ports...), "http")
	vols := r.state(a, &c, "/beszel_data")
	r.deployment(a, podTemplate(a, vols, c), a.w.Storage != "")
	r.exposed(a, ports)
}

// beszelAgent runs on every node, control-plane ones included, on the host
// network so that it reports the node's interfaces, not the pod's. The hub's
// public key (KEY) comes from the workload's Secret.
func (r *renderer) beszelAgent(a app) {
	c := container(a, sortedEnv(map[string]string{"LISTEN": itoa(int(beszelAgentPort()))}), tcp("agent", beszelAgentPort()))
	tmpl := podTemplate(a, nil, c)
	tmpl.Spec.HostNetwork = true
	tmpl.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	for _, key := range []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} {
		tmpl.Spec.Tolerations = append(tmpl.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	r.daemonSet(a, tmpl)
}

func (r *renderer) filebrowser(a app) {
	ports := servicePorts(a.name)
	port := ports[0].ContainerPort
	c := withReadiness(container(a, sortedEnv(map[string]string{
		"FB_ADDRESS": "0.0.0.0", "FB_PORT": itoa(int(port)), "FB_ROOT": "/srv", "FB_DATABASE": "/database/filebrowser.db",
	}), ports...), "http")
	root := r.diskPath(a, "Files")
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "files", MountPath: "/srv"})
	r.hostPathVolume(a, "files", root)
	r.deployment(a, podTemplate(a, []corev1.Volume{claimVolume("files", "files", false)}, c), true)
	r.exposed(a, ports)
}

// state mounts the app's state: a local-path claim when the workload has a
// storage size, else an emptyDir (lost with the pod — see Notes). The first
// path gets the volume's root, the others a sub directory each.
func (r *renderer) state(a app, c *corev1.Container, paths ...string) []corev1.Volume {
	for i, p := range paths {
		m := corev1.VolumeMount{Name: "data", MountPath: p}
		if i > 0 {
			m.SubPath = path.Base(p)
		}
		c.VolumeMounts = append(c.VolumeMounts, m)
	}
	if a.w.Storage == "" {
		return []corev1.Volume{emptyDir("data")}
	}
	if a.replicas() > 1 {
		r.fail("workload %s: %d replicas cannot share one ReadWriteOnce local-path volume; drop storage or use one replica", a.name, a.replicas())
		return nil
	}
	claim := localPathClaim(a.name+"-data", a.w.Storage)
	claim.ObjectMeta = a.meta(a.name + "-data")
	r.b.add(PhaseWorkloads, &claim)
	return []corev1.Volume{claimVolume("data", claim.Name, false)}
}

// withReadiness adds a TCP readiness probe on the named port: with
// externalTrafficPolicy Local, MetalLB announces only nodes with a ready pod.
func withReadiness(c corev1.Container, port string) corev1.Container {
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}},
		PeriodSeconds: 10,
	}
	return c
}
