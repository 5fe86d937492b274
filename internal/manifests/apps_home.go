package manifests

import (
	corev1 "k8s.io/api/core/v1"
)

// serialByID is where udev links serial devices by their USB identity; the
// name survives re-plugging and renumbering of ttyUSB*/ttyACM*.
const serialByID = "/dev/serial/by-id"

const defaultHomeAssistantSize = "5Gi"

// homeAssistant runs on the node with the Zigbee stick (HARD), with the
// by-id directory of that node mounted (see the package doc for why this and
// privileged) and its configuration on a local-path volume.
func (r *renderer) homeAssistant(a app) {
	ports := servicePorts(a.name)
	c := container(a, nil, ports...)
	c.VolumeMounts = append(c.VolumeMounts,
		corev1.VolumeMount{Name: "config", MountPath: "/config"},
		corev1.VolumeMount{Name: "serial", MountPath: serialByID, ReadOnly: true},
	)
	size := a.w.Storage
	if size == "" {
		size = defaultHomeAssistantSize
	}
	claim := localPathClaim("config", size)
	claim.TypeMeta.Kind, claim.TypeMeta.APIVersion = "", ""
	tmpl := podTemplate(a, []corev1.Volume{hostPathInline("serial", serialByID)}, c)
	r.statefulSet(a, tmpl, []corev1.PersistentVolumeClaim{claim}, a.name+"-headless", nil)
	r.exposed(a, ports)
}
