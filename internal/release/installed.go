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
