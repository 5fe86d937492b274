package manifests

import (
	corev1 "k8s.io/api/core/v1"
)

// Immich's internal endpoints and database.
const (
	immichMLPort       = 3003
	redisPort          = 6379
	postgresPort       = 5432
	immichDatabase     = "immich"
	immichDBUser       = "postgres"
	postgresSecretKey  = "password"
	defaultPostgresGiB = "10Gi"
)

// postgresSecret names the Secret with immich-postgres's password (key
// "password"): the workload's secretName, else the workload's own name.
func (r *renderer) postgresSecret() string {
	if s := r.c.Workloads["immich-postgres"].SecretName; s != "" {
		return s
	}
	return "immich-postgres"
}

func (r *renderer) immichServer(a app) {
	ports := servicePorts(a.name)
	env := sortedEnv(map[string]string{
		"DB_HOSTNAME":      "immich-postgres",
		"DB_USERNAME":      immichDBUser,
		"DB_DATABASE_NAME": immichDatabase,
		"REDIS_HOSTNAME":   "immich-redis",
		// Explicit, so that the library path does not depend on the
		// image's default (which moved between releases).
		"IMMICH_MEDIA_LOCATION": "/data",
		"IMMICH_PORT":           itoa(int(ports[0].ContainerPort)),
	})
	if r.enabled("immich-machine-learning") {
		env = append(env, corev1.EnvVar{Name: "IMMICH_MACHINE_LEARNING_URL", Value: "http://immich-machine-learning:" + itoa(immichMLPort)})
	} else {
		env = append(env, corev1.EnvVar{Name: "IMMICH_MACHINE_LEARNING_ENABLED", Value: "false"})
	}
	env = append(env, secretEnv("DB_PASSWORD", r.postgresSecret(), postgresSecretKey))
	c := container(a, env, ports...)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "library", MountPath: "/data"})
	r.hostPathVolume(a, "library", r.diskPath(a, "Library"))
	r.deployment(a, podTemplate(a, []corev1.Volume{claimVolume("library", "library", false)}, c), true)
	r.exposed(a, ports)
}

func (r *renderer) immichML(a app) {
	ports := []corev1.ContainerPort{tcp("http", immichMLPort)}
	c := container(a, sortedEnv(map[string]string{"MACHINE_LEARNING_CACHE_FOLDER": "/cache"}), ports...)
	r.deployment(a, podTemplate(a, nil, c), false)
	r.service(a, a.name, corev1.ServiceTypeClusterIP, ports, false)
}

// immichPostgres keeps its data on local-path: the volume binds to the node
// the pod first ran on, which makes the SOFT preference stick (see Analyze).
func (r *renderer) immichPostgres(a app) {
	ports := []corev1.ContainerPort{tcp("postgres", postgresPort)}
	env := append(sortedEnv(map[string]string{
		"POSTGRES_USER":        immichDBUser,
		"POSTGRES_DB":          immichDatabase,
		"POSTGRES_INITDB_ARGS": "--data-checksums",
		// A sub directory: initdb refuses a non-empty mount root.
		"PGDATA": "/var/lib/postgresql/data/pgdata",
	}), secretEnv("POSTGRES_PASSWORD", r.postgresSecret(), postgresSecretKey))
	a.w.SecretName = "" // referenced key by key above, not as envFrom
	c := container(a, env, ports...)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/var/lib/postgresql/data"})
	size := a.w.Storage
	if size == "" {
		size = defaultPostgresGiB
	}
	claim := localPathClaim("data", size)
	claim.TypeMeta.Kind, claim.TypeMeta.APIVersion = "", ""
	r.statefulSet(a, podTemplate(a, nil, c), []corev1.PersistentVolumeClaim{claim}, a.name, ports)
}

// immichRedis is a cache: immich rebuilds its queues, so no volume.
func (r *renderer) immichRedis(a app) {
	ports := []corev1.ContainerPort{tcp("redis", redisPort)}
	c := container(a, nil, ports...)
	r.deployment(a, podTemplate(a, nil, c), false)
	r.service(a, a.name, corev1.ServiceTypeClusterIP, ports, false)
}

func (r *renderer) enabled(workload string) bool {
	w, ok := r.c.Workloads[workload]
	return ok && w.IsEnabled()
}
