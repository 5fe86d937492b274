package release

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// ErrChecksumMismatch means a downloaded file did not hash to the expected
// value; nothing was installed.
var ErrChecksumMismatch = errors.New("sha256 mismatch")

// DefaultStatePath records the hash of installed files by size and mtime, so
// a no-op run does not re-hash a 70 MB binary.
const DefaultStatePath = "/var/lib/nodeagent/k3s-install.json"

// Options tune downloads; zero values take the defaults in withDefaults.
type Options struct {
	// Timeout bounds a whole Install (all files, all attempts).
	Timeout time.Duration
	// AttemptTimeout bounds one download attempt, body included; it is
	// long, so a slow link finishes (a 70 MB binary at 40 KB/s), and
	// IdleTimeout gives up on an attempt whose body stalls.
	AttemptTimeout time.Duration
	// IdleTimeout ends an attempt that received nothing for that long,
	// well inside the daemon's stall limit (5 minutes without progress).
	IdleTimeout time.Duration
	// HeaderTimeout bounds the wait for response headers of one request.
	HeaderTimeout time.Duration
	// Retries is how often the client retries a request (connection error,
	// 429, 5xx); Attempts is how often a download whose body broke off
	// (reset, truncation) is started again.
	Retries  int
	Attempts int
	// RetryWaitMin and RetryWaitMax bound the jittered backoff.
	RetryWaitMin, RetryWaitMax time.Duration
	// AirgapImages also fetches the air-gap image tarball from an HTTP
	// release (it is always taken from a local release directory when present).
	AirgapImages bool
	// Progress, when set, is called with bytes done and total (-1 if unknown).
	Progress func(done, total int64)
	// StatePath is the host path of the hash cache; DefaultStatePath if empty.
	StatePath string
}

func (o Options) withDefaults() Options {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Timeout, 30*time.Minute)
	def(&o.AttemptTimeout, 30*time.Minute)
	def(&o.IdleTimeout, 2*time.Minute)
	def(&o.HeaderTimeout, 30*time.Second)
	def(&o.RetryWaitMin, time.Second)
	def(&o.RetryWaitMax, 30*time.Second)
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.StatePath == "" {
		o.StatePath = DefaultStatePath
	}
	return o
}

// Installer puts a verified k3s binary (and air-gap images) on the node.
type Installer struct {
	root   host.Root
	log    *zap.Logger
	clock  host.Clock
	opts   Options
	client *retryablehttp.Client
	caps   sizeCaps
}

// sizeCaps bound what a download may write: a mirror that sends more (a
// wrong file, an endless body) fails before it fills the SD card, not at
// the hash check after (issue #22, item 9).
type sizeCaps struct{ binary, images, checksums int64 }

// defaultCaps leave room for growth: the k3s binary is about 70 MB and the
// air-gap image tarball about 200 MB.
var defaultCaps = sizeCaps{binary: 256 << 20, images: 1 << 30, checksums: 1 << 20}

// NewInstaller returns an Installer writing under root.
func NewInstaller(root host.Root, log *zap.Logger, clock host.Clock, opts Options) *Installer {
	log = log.With(zap.String("component", "k3s"))
	opts = opts.withDefaults()
	return &Installer{root: root, log: log, clock: clock, opts: opts, client: newHTTPClient(log, opts), caps: defaultCaps}
}

// InstallResult says what Install changed.
type InstallResult struct {
	BinaryChanged bool
	ImagesChanged bool
	// SHA256 is the verified hash of the installed binary.
	SHA256 string
}

// Install makes BinaryPath the k3s release of k for arch, verified against
// the pinned hash or the release checksum file: Stage, then Commit at once.
// An up-to-date binary is left alone and nothing is downloaded.
func (i *Installer) Install(ctx context.Context, k config.K3s, arch string) (InstallResult, error) {
	s, err := i.Stage(ctx, k, arch)
	if err != nil {
		return InstallResult{}, err
	}
	if err := s.Commit(); err != nil {
		return InstallResult{}, err
	}
	return s.InstallResult, nil
}

// Stage puts the verified files of the release of k for arch beside their
// targets (same directory, so Commit is a rename) without touching the
// installed ones; a file already installed is not staged. A staged file left
// by an earlier run is reused when it still has the wanted hash.
func (i *Installer) Stage(ctx context.Context, k config.K3s, arch string) (s *Staged, err error) {
	rel, err := Resolve(k, arch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	st := i.loadState()
	// Keep what was verified even when a later file fails.
	defer func() {
		if serr := i.saveState(st); err == nil {
			err = serr
		}
	}()
	want, sums, err := i.binaryHash(ctx, rel, st)
	if err != nil {
		return nil, err
	}
	s = &Staged{inst: i}
	s.SHA256 = want
	bin := file{loc: rel.BinaryLoc, local: rel.Local, sha256: want, dest: BinaryPath, mode: 0o755, maxSize: i.caps.binary}
	if s.BinaryChanged, err = i.stageFile(ctx, st, bin); err != nil {
		return nil, err
	}
	s.add(bin, s.BinaryChanged)
	if rel.Pinned == "" {
		st.rememberRelease(rel.BinaryLoc, want)
	}
	st.rememberVersion(want, rel.Version)
	img, ok, err := i.imagesFile(rel, sums)
	if err != nil {
		return nil, err
	}
	if !ok {
		return s, nil
	}
	if s.ImagesChanged, err = i.stageFile(ctx, st, img); err != nil {
		return nil, err
	}
	s.add(img, s.ImagesChanged)
	return s, nil
}

// binaryHash returns the wanted hash of the binary, the pinned one winning
// over the checksum file, and the parsed checksum file when it was needed (for
// the air-gap images). A pinned hash without images needs no checksum file.
func (i *Installer) binaryHash(ctx context.Context, rel Assets, st *installState) (string, map[string]string, error) {
	needSums := rel.Local || i.opts.AirgapImages
	if rel.Pinned != "" && !needSums {
		return rel.Pinned, nil, nil
	}
	// A release's checksum file never changes, so the hash verified against
	// it last time stands; a no-op run then needs no network.
	if known := st.Releases[rel.BinaryLoc]; known != "" && !needSums {
		return known, nil, nil
	}
	sums, err := i.checksums(ctx, rel)
	switch {
	case err != nil && rel.Pinned != "":
		// The binary is still verifiable; images without a checksum are refused later.
		i.log.Warn("checksum file unavailable, using pinned hash", zap.String("location", rel.ChecksumLoc), zap.Error(err))
		return rel.Pinned, nil, nil
	case err != nil:
		return "", nil, err
	case rel.Pinned != "":
		return rel.Pinned, sums, nil
	}
	want, ok := sums[rel.Asset]
	if !ok {
		return "", nil, fmt.Errorf("checksum file %s does not list %s", rel.ChecksumLoc, rel.Asset)
	}
	return want, sums, nil
}

func (i *Installer) checksums(ctx context.Context, rel Assets) (map[string]string, error) {
	data, err := i.readSmall(ctx, rel.ChecksumLoc, rel.Local, i.caps.checksums)
	if err != nil {
		return nil, fmt.Errorf("fetching k3s checksums: %w", err)
	}
	sums, err := ParseChecksums(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", rel.ChecksumLoc, err)
	}
	return sums, nil
}

// imagesFile decides whether the air-gap tarball is installed: from a local
// release when it sits beside the binary, over HTTP only on request; either
// way it must be listed in the checksum file.
func (i *Installer) imagesFile(rel Assets, sums map[string]string) (file, bool, error) {
	if !rel.Local && !i.opts.AirgapImages {
		return file{}, false, nil
	}
	if rel.Local {
		if _, err := os.Stat(i.root.Path(rel.ImagesLoc)); errors.Is(err, fs.ErrNotExist) {
			return file{}, false, nil
		} else if err != nil {
			return file{}, false, fmt.Errorf("checking %s: %w", rel.ImagesLoc, err)
		}
	}
	want, ok := sums[rel.ImagesAsset]
	if !ok {
		if !rel.Local {
			i.log.Warn("air-gap images not listed in the checksum file, skipping", zap.String("asset", rel.ImagesAsset))
			return file{}, false, nil
		}
		return file{}, false, fmt.Errorf("%s is present but not listed in %s, so it cannot be verified", rel.ImagesLoc, rel.ChecksumLoc)
	}
	return file{loc: rel.ImagesLoc, local: rel.Local, sha256: want, dest: path.Join(ImagesDir, rel.ImagesAsset), mode: 0o644,
		maxSize: i.caps.images}, true, nil
}
