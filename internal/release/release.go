package release

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
)

// BinaryPath is where the k3s binary is installed, as the official install
// script does, so k3s-killall.sh and documentation match.
const BinaryPath = "/usr/local/bin/k3s"

// ImagesDir is where k3s imports air-gap image tarballs from on start.
const ImagesDir = "/var/lib/rancher/k3s/agent/images"

// Assets says where the assets of one k3s version for one arch are and how
// to verify them. It is computed from the cluster file alone.
type Assets struct {
	Version string
	Arch    string
	// Asset is the release file name of the binary: k3s-arm64, k3s, k3s-armhf.
	Asset string
	// BinaryLoc, ChecksumLoc and ImagesLoc are URLs, or host paths when Local.
	BinaryLoc   string
	ChecksumLoc string
	ImagesLoc   string
	// ImagesAsset is the air-gap image tarball name listed in the checksum file.
	ImagesAsset string
	// Local is true for an air-gapped install from a directory.
	Local bool
	// Pinned is the sha256 from the cluster file; it wins over the checksum file.
	Pinned string
}

// assetNames maps a cluster-file arch to the k3s release binary name.
var assetNames = map[string]string{"arm64": "k3s-arm64", "amd64": "k3s", "arm": "k3s-armhf"}

// Resolve computes the asset locations for arch under
// <releaseBase>/<version>/. A releaseBase starting with "/" or "file://" is a
// local directory (air-gapped); anything else must be an http(s) URL.
func Resolve(k config.K3s, arch string) (Assets, error) {
	asset, ok := assetNames[arch]
	if !ok {
		return Assets{}, fmt.Errorf("resolving k3s asset: unknown arch %q", arch)
	}
	r := Assets{
		Version: k.Version, Arch: arch, Asset: asset,
		ImagesAsset: "k3s-airgap-images-" + arch + ".tar.zst",
		Pinned:      k.SHA256[arch],
	}
	checksum := "sha256sum-" + arch + ".txt"
	base := strings.TrimRight(k.ReleaseBase, "/")
	switch {
	case strings.HasPrefix(base, "file://") || strings.HasPrefix(base, "/"):
		dir := strings.TrimPrefix(base, "file://") + "/" + k.Version
		r.Local = true
		r.BinaryLoc, r.ChecksumLoc, r.ImagesLoc = dir+"/"+asset, dir+"/"+checksum, dir+"/"+r.ImagesAsset
	case strings.HasPrefix(base, "https://") || strings.HasPrefix(base, "http://"):
		if _, err := url.Parse(base); err != nil {
			return Assets{}, fmt.Errorf("resolving k3s release base %q: %w", k.ReleaseBase, err)
		}
		dir := base + "/" + escapeVersion(k.Version)
		r.BinaryLoc, r.ChecksumLoc, r.ImagesLoc = dir+"/"+asset, dir+"/"+checksum, dir+"/"+r.ImagesAsset
	default:
		return Assets{}, fmt.Errorf("resolving k3s release base %q: want an http(s) URL or an absolute directory", k.ReleaseBase)
	}
	return r, nil
}

// escapeVersion escapes a version for a URL path the way GitHub's release
// links do: url.PathEscape keeps '+', which some mirrors and S3 decode as a
// space, so it is written %2B (v1.33.5+k3s1 -> v1.33.5%2Bk3s1).
func escapeVersion(v string) string {
	return strings.ReplaceAll(url.PathEscape(v), "+", "%2B")
}

// ParseChecksums reads a sha256sum file ("<hex>  <name>" or "<hex> *<name>"
// per line) into a map from file name to lowercase hex digest.
func ParseChecksums(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 || !isSHA256(fields[0]) {
			return nil, fmt.Errorf("checksum file line %d: want \"<sha256>  <file>\", got %q", line, text)
		}
		out[strings.TrimPrefix(fields[1], "*")] = strings.ToLower(fields[0])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checksum file: %w", err)
	}
	return out, nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
