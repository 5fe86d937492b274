package manifests

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// profile is how locked down a workload's container can be: what its image
// allows, not what we would like. Why says what stops more.
type profile struct {
	// user is the uid to run as; nil keeps the image's user (root).
	user         *int64
	readOnlyRoot bool
	privileged   bool
	// caps are added after dropping ALL; only for non-privileged containers
	// that drop.
	caps []corev1.Capability
	// writable are emptyDir mounts a read-only root filesystem still needs.
	writable []string
	why      string
}

var profiles = map[string]profile{
	"nginx-proxy-manager": {why: "root, writable root: s6-overlay init writes /etc and /run and nginx binds 80/443"},
	"pihole":              {why: "root, writable root: s6-overlay and FTL start as root and write /etc/pihole, /etc/dnsmasq.d"},
	"beszel":              {user: ptr.To[int64](1000), readOnlyRoot: true, writable: []string{"/tmp"}, why: "non-root, read-only root (static binary, state in /beszel_data)"},
	"beszel-agent":        {user: ptr.To[int64](1000), readOnlyRoot: true, why: "non-root, read-only root (static binary, reads /proc and /sys only)"},
	"immich-server":       {user: ptr.To[int64](1000), writable: []string{"/tmp"}, why: "non-root (immich supports a user override); writable root: it writes caches under /usr/src/app"},
	"immich-machine-learning": {user: ptr.To[int64](1000), writable: []string{"/cache"},
		why: "non-root; writable root: Python and the model loader write outside the /cache volume"},
	"immich-postgres": {user: ptr.To[int64](999), readOnlyRoot: true, writable: []string{"/var/run/postgresql", "/tmp"},
		why: "non-root (postgres uid 999), read-only root with the socket dir and /tmp as emptyDir"},
	"immich-redis": {user: ptr.To[int64](999), readOnlyRoot: true, writable: []string{"/data"}, why: "non-root (valkey uid 999), read-only root"},
	"home-assistant": {privileged: true,
		why: "root, privileged: opening the Zigbee tty needs a device cgroup rule that stock k3s only grants privileged containers"},
	"filebrowser": {user: ptr.To[int64](1000), readOnlyRoot: true, writable: []string{"/config", "/tmp"},
		why: "non-root (uid 1000 owns /mnt/hd1/Files), read-only root"},
	// restic must read every file of the disk whatever its owner: root with
	// only CAP_DAC_READ_SEARCH, not full root.
	"restic-backup": {user: ptr.To[int64](0), readOnlyRoot: true, caps: []corev1.Capability{"DAC_READ_SEARCH"},
		writable: []string{"/cache", "/tmp"}, why: "root with only DAC_READ_SEARCH (reads every file), read-only root"},
	// The backups directory is root's with mode 0700 (cluster file).
	"postgres-backup": {user: ptr.To[int64](0), readOnlyRoot: true, writable: []string{"/tmp"},
		why: "root without capabilities (writes the root-owned 0700 backups dir), read-only root"},
}

// securityContext is the container's context from its profile.
func (p profile) securityContext() *corev1.SecurityContext {
	if p.privileged {
		return &corev1.SecurityContext{Privileged: ptr.To(true)}
	}
	if p.user == nil {
		// Root images that switch users themselves (s6-overlay) need setuid
		// and chown; keep the runtime's default capabilities.
		return &corev1.SecurityContext{SeccompProfile: runtimeDefault()}
	}
	sc := &corev1.SecurityContext{
		RunAsUser:                p.user,
		RunAsGroup:               p.user,
		RunAsNonRoot:             ptr.To(*p.user != 0),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(p.readOnlyRoot),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: p.caps},
		SeccompProfile:           runtimeDefault(),
	}
	return sc
}

func runtimeDefault() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
}

// writableVolumes are the emptyDirs of the profile's writable paths.
func (p profile) writableVolumes() ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, path := range p.writable {
		name := "scratch" + strings.ReplaceAll(path, "/", "-")
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: path})
	}
	return vols, mounts
}
