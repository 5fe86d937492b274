package manifests

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeagent/nodeagent/internal/config"
)

// defaultRetention is the architecture's restic policy.
var defaultRetention = config.Retention{Last: 3, Daily: 7, Weekly: 4, Monthly: 6}

// dumpKeepDays is how long daily pg_dumps stay on the disk: longer than the
// month between restic runs would be wasted space, shorter would leave
// restic only a few days of dumps to pick up.
const dumpKeepDays = 14

// resticBackup backs the whole disk up, read-only, then applies the
// retention. Snapshots carry a fixed --host: the pod's hostname changes every
// run, and restic's forget groups by host, so with the default every
// snapshot would be the only one of its group and nothing would ever be
// forgotten. The repository is initialised on the first run. The mount
// point reaches the script only through the environment, expanded inside
// double quotes, so no character of it is read as shell syntax.
func (r *renderer) resticBackup(a app) {
	src, ok := DiskFor(r.c, a.w.Require)
	if !ok {
		r.fail("workload %s: no disk of any node carries the required labels %v", a.name, a.w.Require)
		return
	}
	host := r.c.Metadata.Name
	script := strings.Join([]string{
		"set -eu",
		"restic cat config >/dev/null 2>&1 || restic init",
		fmt.Sprintf(`restic backup --host %s "$%s"`, host, backupSourceEnv),
		fmt.Sprintf("restic forget --host %s %s --prune", host, forgetFlags(a.w.Retention)),
	}, "\n")
	c := container(a, sortedEnv(map[string]string{
		"RESTIC_CACHE_DIR": "/cache", "HOME": "/tmp", backupSourceEnv: kubeletLiteral(src),
	}))
	c.Command = []string{"/bin/sh", "-c", script}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "source", MountPath: src, ReadOnly: true})
	r.cronJob(a, podTemplate(a, []corev1.Volume{hostPathInline("source", src)}, c))
}

// backupSourceEnv carries the directory restic backs up into its script.
const backupSourceEnv = "BACKUP_SOURCE"

// kubeletLiteral escapes s for an env value or command, where the kubelet
// replaces $(NAME) with another variable's value and $$ with $.
func kubeletLiteral(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func forgetFlags(ret *config.Retention) string {
	p := defaultRetention
	if ret != nil {
		p = *ret
	}
	var flags []string
	for _, f := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}} {
		if f.n > 0 {
			flags = append(flags, fmt.Sprintf("--keep-%s %d", f.name, f.n))
		}
	}
	return strings.Join(flags, " ")
}

// postgresBackup dumps immich's database into the disk's backups directory,
// which restic then carries off-site. The dump is written under a temporary
// name and renamed, so a failed run never leaves a truncated dump that looks
// complete; only this job's own dumps are pruned.
func (r *renderer) postgresBackup(a app) {
	dir := r.diskPath(a, "backups")
	secret := a.w.SecretName
	if secret == "" {
		secret = r.postgresSecret()
	}
	a.w.SecretName = "" // referenced key by key, not as envFrom
	script := strings.Join([]string{
		"set -eu",
		`f=/backups/immich-postgres-$(date +%Y%m%d-%H%M%S).dump`,
		`pg_dump --format=custom --file="$f.partial"`,
		`mv "$f.partial" "$f"`,
		fmt.Sprintf(`find /backups -maxdepth 1 -name 'immich-postgres-*.dump' -mtime +%d -delete`, dumpKeepDays-1),
	}, "\n")
	env := append(sortedEnv(map[string]string{
		"PGHOST": "immich-postgres", "PGPORT": itoa(postgresPort), "PGUSER": immichDBUser, "PGDATABASE": immichDatabase,
	}), secretEnv("PGPASSWORD", secret, postgresSecretKey))
	c := container(a, env)
	c.Command = []string{"/bin/sh", "-c", script}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "backups", MountPath: "/backups"})
	r.cronJob(a, podTemplate(a, []corev1.Volume{hostPathInline("backups", dir)}, c))
}
