package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.uber.org/zap"
)

// PreviousPath keeps the binary a new release replaced, so that a server
// whose upgrade does not come back gets it back (RestorePrevious).
const PreviousPath = BinaryPath + ".previous"

// keepPrevious makes PreviousPath the binary installed now (Commit calls
// it for a verified release binary only), by a hard link
// renamed into place: atomic, no copy, and the old binary's inode survives
// the rename of the new one over BinaryPath. Nothing installed: nothing kept.
func (i *Installer) keepPrevious() error {
	bin, prev := i.root.Path(BinaryPath), i.root.Path(PreviousPath)
	tmp := prev + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keeping the previous k3s: %w", err)
	}
	if err := os.Link(bin, tmp); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("keeping the previous k3s: %w", err)
	}
	return renameSynced(tmp, prev)
}

// RestorePrevious puts the binary kept at PreviousPath back at BinaryPath
// (keeping it at PreviousPath too), by a link renamed into place.
func (i *Installer) RestorePrevious() error {
	bin, prev := i.root.Path(BinaryPath), i.root.Path(PreviousPath)
	tmp := bin + ".restore"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restoring the previous k3s: %w", err)
	}
	if err := os.Link(prev, tmp); err != nil {
		return fmt.Errorf("restoring the previous k3s: %w", err)
	}
	if err := renameSynced(tmp, bin); err != nil {
		return fmt.Errorf("restoring the previous k3s: %w", err)
	}
	i.log.Warn("previous k3s binary restored", zap.String("path", BinaryPath), zap.String("from", PreviousPath))
	return nil
}
