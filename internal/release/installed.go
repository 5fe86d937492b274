package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Installed is the binary at BinaryPath compared with the release wanted,
// as far as it is known without the network.
type Installed struct {
	Present bool
	// SHA256 is the hash of the installed binary.
	SHA256 string
	// Want is the hash the release must have: the pinned one, or the one
	// verified against the release's checksum file on an earlier install;
	// "" when only the checksum file can tell.
	Want string
}

// UpToDate reports whether the installed binary is known to be the release.
func (s Installed) UpToDate() bool { return s.Present && s.Want != "" && s.SHA256 == s.Want }

// Check observes the installed binary for `nodeagent plan`. It reads the
// hash cache but never writes it and never downloads: a plan changes
// nothing, and the checksum file is Install's to fetch.
func (i *Installer) Check(k config.K3s, arch string) (Installed, error) {
	rel, err := Resolve(k, arch)
	if err != nil {
		return Installed{}, err
	}
	st := i.loadState()
	out := Installed{Want: rel.Pinned}
	if out.Want == "" {
		out.Want = st.Releases[rel.BinaryLoc]
	}
	dest := i.root.Path(BinaryPath)
	fi, err := os.Stat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("checking %s: %w", BinaryPath, err)
	}
	out.Present = true
	if c, ok := st.Files[dest]; ok && c == stampOf(fi, c.SHA256) {
		out.SHA256 = c.SHA256
		return out, nil
	}
	out.SHA256, err = hashFile(dest)
	return out, err
}

// InstalledVersion is the release version of the binary at BinaryPath, as
// recorded when a binary with its hash was verified (the release it was
// verified for); known is false when there is no binary or nodeagent never
// verified one with its hash (installed by hand). It reads the hash cache
// and never writes it.
func (i *Installer) InstalledVersion() (version string, known bool, err error) {
	dest := i.root.Path(BinaryPath)
	fi, err := os.Stat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("checking %s: %w", BinaryPath, err)
	}
	st := i.loadState()
	sum := ""
	if c, ok := st.Files[dest]; ok && c == stampOf(fi, c.SHA256) {
		sum = c.SHA256
	} else if sum, err = hashFile(dest); err != nil {
		return "", false, err
	}
	version, known = st.Versions[sum]
	return version, known, nil
}
