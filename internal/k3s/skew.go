package k3s

import (
	"fmt"
	"regexp"
	"strconv"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// Version is a k3s release version, v<major>.<minor>.<patch>+k3s<n>.
type Version struct {
	Major, Minor, Patch, K3s int
}

var versionRe = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$`)

// ParseVersion reads a k3s version like v1.33.5+k3s1.
func ParseVersion(s string) (Version, error) {
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a k3s version like v1.33.5+k3s1", s)
	}
	var v Version
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch, &v.K3s} {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Version{}, fmt.Errorf("%q: %w", s, err)
		}
		*p = n
	}
	return v, nil
}

// Compare orders versions by major, minor, patch, then the +k3sN suffix
// (k3s rebuilds a Kubernetes patch release as +k3s2, +k3s3, ...).
func (v Version) Compare(o Version) int {
	for _, d := range [][2]int{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Patch, o.Patch}, {v.K3s, o.K3s}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CheckSkew refuses the change of k3s from installed to wanted that
// Kubernetes' version skew policy does not allow
// (kubernetes.io/releases/version-skew-policy: the control plane is
// upgraded one minor version at a time, and never downgraded): a
// downgrade, or a jump of more than one minor version. The same version,
// a patch or +k3sN step, and the next minor are allowed.
func CheckSkew(installed, wanted string) error {
	have, err := ParseVersion(installed)
	if err != nil {
		return fmt.Errorf("installed k3s: %w", err)
	}
	want, err := ParseVersion(wanted)
	if err != nil {
		return fmt.Errorf("k3s.version: %w", err)
	}
	switch {
	case want.Compare(have) < 0:
		return fmt.Errorf("%s is older than the installed %s: k3s is never downgraded", wanted, installed)
	case want.Major != have.Major:
		return fmt.Errorf("%s changes the major version of the installed %s", wanted, installed)
	case want.Minor > have.Minor+1:
		return fmt.Errorf("%s is more than one minor version above the installed %s: upgrade through v%d.%d first (Kubernetes' version skew policy)",
			wanted, installed, have.Major, have.Minor+1)
	}
	return nil
}

// CheckUpgrade applies CheckSkew to the installed binary's version and the
// cluster file's: Ensure and PlanLive refuse a change it refuses before
// anything is downloaded or written. installed is "" when the binary is
// missing or its version unknown (not verified by nodeagent), and nothing
// can be checked then.
func (m *Manager) CheckUpgrade() (installed string, err error) {
	installed, err = checkInstalled(m.installer, m.cluster)
	if err != nil && installed != "" {
		err = fmt.Errorf("k3s.version: %w", err)
	}
	return installed, err
}

// CheckInstalled is CheckUpgrade for `nodeagent validate`, on the host
// under root, whatever node of the cluster file it is; a refusal is
// CheckSkew's error, for the k3s.version field.
func CheckInstalled(root host.Root, log *zap.Logger, c *config.Cluster) (installed string, err error) {
	return checkInstalled(release.NewInstaller(root, log, host.RealClock{}, release.Options{}), c)
}

func checkInstalled(inst *release.Installer, c *config.Cluster) (string, error) {
	installed, known, err := inst.InstalledVersion()
	if err != nil || !known {
		return "", err
	}
	return installed, CheckSkew(installed, c.K3s.Version)
}

// InstalledVersion is the installed binary's version for `nodeagent
// status`, "" when unknown.
func (m *Manager) InstalledVersion() (string, error) {
	v, _, err := m.installer.InstalledVersion()
	return v, err
}
