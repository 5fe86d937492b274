package release

import (
	"context"
	"fmt"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Reachable reads the release's checksum file, as an install first does,
// and finds the binary listed in it (or pinned): `nodeagent doctor` says
// before the join whether the download or the air-gap directory will work.
// It writes nothing.
func (i *Installer) Reachable(ctx context.Context, k config.K3s, arch string) (string, error) {
	rel, err := Resolve(k, arch)
	if err != nil {
		return "", err
	}
	sums, err := i.checksums(ctx, rel)
	if err != nil {
		return rel.ChecksumLoc, err
	}
	if _, ok := sums[rel.Asset]; !ok && rel.Pinned == "" {
		return rel.ChecksumLoc, fmt.Errorf("%s does not list %s", rel.ChecksumLoc, rel.Asset)
	}
	return rel.ChecksumLoc, nil
}
