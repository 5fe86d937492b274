package release

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"

	"github.com/nodeagent/nodeagent/internal/host"
)

// leftoverName matches the temp files downloadOnce creates beside the binary
// and the image tarball (os.CreateTemp puts digits for the "*"), and nothing
// else: ".k3s.staged.download-123", ".k3s-airgap-images-arm64.tar.zst.download-9".
var leftoverName = regexp.MustCompile(`^\.(k3s|k3s-airgap-images-[a-z0-9]+\.tar\.zst)(\.staged)?\.download-[0-9]+$`)

// SweepLeftovers removes the temp files of downloads that never finished: a
// process killed mid-download (a watchdog restart, a power loss) leaves one
// behind each time, and repeated kills fill the SD card (issue #22, item 2).
// Call it when no download runs, at daemon start. It returns the host paths
// removed; a file it cannot remove is an error naming it.
func SweepLeftovers(root host.Root) ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range []string{path.Dir(BinaryPath), ImagesDir} {
		entries, err := os.ReadDir(root.Path(dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("looking for download leftovers in %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !leftoverName.MatchString(e.Name()) {
				continue
			}
			p := path.Join(dir, e.Name())
			if err := os.Remove(root.Path(p)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing download leftover %s: %w", p, err))
				continue
			}
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}
