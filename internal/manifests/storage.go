package manifests

import (
	"path"

	corev1 "k8s.io/api/core/v1"
)

// defaultStorage is the size of an app's state volume when the cluster file
// gives none: no app keeps user state in an emptyDir, which a pod restart
// or a move to another node empties (proxy hosts, certificates, the gravity
// database, users and shares would be gone).
var defaultStorage = map[string]string{
	"nginx-proxy-manager": "1Gi",
	"pihole":              "1Gi",
	"beszel":              "1Gi",
	"filebrowser":         "256Mi",
	"home-assistant":      defaultHomeAssistantSize,
	"immich-postgres":     defaultPostgresGiB,
}

// statePaths are the directories where each app keeps what a restart must
// not lose; every one is on a persistent volume (TestStateIsPersistent).
var statePaths = map[string][]string{
	"nginx-proxy-manager": {"/data", "/etc/letsencrypt"},
	"pihole":              {"/etc/pihole"},
	"beszel":              {"/beszel_data"},
	"filebrowser":         {"/database"},
	"home-assistant":      {"/config"},
	"immich-postgres":     {"/var/lib/postgresql/data"},
	"immich-server":       {"/data"},
}

// ephemeralPaths are the only emptyDir mounts the renderer may produce, by
// app and mount path, with why losing their content is fine
// (TestNoStateInEmptyDir fails on any other).
var ephemeralPaths = map[string]map[string]string{
	"immich-machine-learning": {"/cache": "downloaded models: fetched again from Hugging Face on the first request after a restart"},
	"immich-redis":            {"/data": "job queues only: immich re-queues its work, the architecture runs it without persistence"},
	"immich-server":           {"/tmp": "upload staging of requests in flight"},
	"immich-postgres":         {"/var/run/postgresql": "the server's unix socket and pid file", "/tmp": "sort spill files of running queries"},
	"beszel":                  {"/tmp": "scratch of the read-only-root binary"},
	"filebrowser":             {"/config": "settings.json the image writes at start; the settings come from FB_* env", "/tmp": "upload chunks in flight"},
	"restic-backup":           {"/cache": "restic's repository cache, rebuilt from B2", "/tmp": "scratch of a job run"},
	"postgres-backup":         {"/tmp": "scratch of a job run"},
}

// storageSize is the app's state volume size: the cluster file's, else the
// default.
func storageSize(a app) string {
	if a.w.Storage != "" {
		return a.w.Storage
	}
	return defaultStorage[a.name]
}

// stateMounts mounts volume "data" at the app's state paths: the first gets
// the volume's root, the others a sub directory each.
func stateMounts(c *corev1.Container, paths ...string) {
	for i, p := range paths {
		m := corev1.VolumeMount{Name: "data", MountPath: p}
		if i > 0 {
			m.SubPath = path.Base(p)
		}
		c.VolumeMounts = append(c.VolumeMounts, m)
	}
}

// stateClaim renders the local-path claim "<app>-data" of a single-replica
// Deployment and returns its volume "data". Replicated apps are
// StatefulSets with stateTemplate instead: two replicas cannot share one
// ReadWriteOnce local-path volume.
func (r *renderer) stateClaim(a app) []corev1.Volume {
	if a.replicas() > 1 {
		r.fail("workload %s: %d replicas cannot share one ReadWriteOnce local-path volume", a.name, a.replicas())
		return nil
	}
	claim := localPathClaim(a.name+"-data", storageSize(a))
	claim.ObjectMeta = a.meta(a.name + "-data")
	r.b.add(PhaseWorkloads, &claim)
	return []corev1.Volume{claimVolume("data", claim.Name, false)}
}

// stateTemplate is the volumeClaimTemplate "data" of a StatefulSet: one
// local-path volume per replica, on the node that replica first ran on.
func stateTemplate(a app) []corev1.PersistentVolumeClaim {
	claim := localPathClaim("data", storageSize(a))
	claim.TypeMeta.Kind, claim.TypeMeta.APIVersion = "", ""
	return []corev1.PersistentVolumeClaim{claim}
}
