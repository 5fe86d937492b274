package manifests

import (
	"github.com/nodeagent/nodeagent/internal/config"

	corev1 "k8s.io/api/core/v1"
)

// beszelAgentPort is where the hub reaches each node's agent (host network);
// the firewall opens the same port between nodes, from the same table.
func beszelAgentPort() int32 {
	spec, _ := config.LookupWorkload("beszel-agent")
	return int32(spec.HostPorts[0].Port)
}

func (r *renderer) beszel(a app) {
	ports := servicePorts(a.name)
	c := container(a, nil, ports...)
	stateMounts(&c, statePaths[a.name]...)
	r.deployment(a, podTemplate(a, r.stateClaim(a), c), true)
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

// filebrowser serves the disk's Files directory. Its database (users,
// password hashes, shares) is on a local-path volume, not a directory of the
// disk: inside the served root users could download or delete it, a separate
// disk directory would be one more entry every cluster file's disk must
// list (a hostPath PV of type Directory does not start without it), and the
// app is HARD on the disk's node anyway, so the volume binding to that node
// costs no mobility. The price: restic backs up the disk, not local-path
// (README "Where each app's data lives").
func (r *renderer) filebrowser(a app) {
	ports := servicePorts(a.name)
	port := ports[0].ContainerPort
	c := container(a, sortedEnv(map[string]string{
		"FB_ADDRESS": "0.0.0.0", "FB_PORT": itoa(int(port)), "FB_ROOT": "/srv", "FB_DATABASE": "/database/filebrowser.db",
	}), ports...)
	root := r.diskPath(a, "Files")
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "files", MountPath: "/srv"})
	r.hostPathVolume(a, "files", root)
	stateMounts(&c, statePaths[a.name]...)
	vols := append([]corev1.Volume{claimVolume("files", "files", false)}, r.stateClaim(a)...)
	r.deployment(a, podTemplate(a, vols, c), true)
	r.exposed(a, ports)
}
