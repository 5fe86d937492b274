package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// file is one verified file to put on the host.
type file struct {
	loc    string // URL or host path of the source
	local  bool
	sha256 string
	dest   string // host path
	mode   fs.FileMode
	// maxSize is the most the download may write.
	maxSize int64
}

// copyBufSize is large so a loopback or LAN download is not bound by
// syscalls per chunk; one buffer per download.
const copyBufSize = 1 << 20

// stageFile makes the staged path of f.dest hold the verified content,
// unless f.dest already does (changed=false). A staged file that still has
// the hash is kept; a failed download leaves the installed file, no staged
// file (or the earlier one) and no temp file.
func (i *Installer) stageFile(ctx context.Context, st *installState, f file) (bool, error) {
	dest := i.root.Path(f.dest)
	ok, err := st.upToDate(dest, f.sha256)
	if err != nil {
		return false, err
	}
	if ok {
		i.log.Debug("already installed", zap.String("path", f.dest), zap.String("sha256", f.sha256))
		i.dropStaged(st, dest)
		return false, i.fixMode(dest, f.mode)
	}
	staged := stagedPath(dest)
	if ok, err := st.upToDate(staged, f.sha256); err != nil || ok {
		if ok {
			i.log.Info("reusing verified staged file", zap.String("path", f.dest), zap.String("sha256", f.sha256))
		}
		return ok, err
	}
	for attempt := 1; ; attempt++ {
		err = i.downloadOnce(ctx, f, staged)
		if err == nil {
			break
		}
		if !isReadError(err) || attempt >= i.opts.Attempts || ctx.Err() != nil {
			return false, err
		}
		wait := ExpJitter(i.opts.RetryWaitMin, i.opts.RetryWaitMax, attempt-1)
		i.log.Warn("download broke off, retrying", zap.String("source", f.loc), zap.Int("attempt", attempt),
			zap.Duration("wait", wait), zap.Error(err))
		if err := host.Sleep(ctx, i.clock, wait); err != nil {
			return false, fmt.Errorf("downloading %s: %w", f.loc, err)
		}
	}
	i.log.Info("staged verified file", zap.String("path", f.dest), zap.String("source", f.loc), zap.String("sha256", f.sha256))
	return true, st.stamp(staged, f.sha256)
}

// fixMode restores the mode of an up-to-date file (a chmod by hand).
func (i *Installer) fixMode(dest string, mode fs.FileMode) error {
	st, err := os.Stat(dest)
	if err != nil || st.Mode().Perm() == mode {
		return err
	}
	return os.Chmod(dest, mode)
}

// downloadOnce streams the source into a temp file beside dest, hashing as it
// goes (no second pass), and renames it over dest only when the hash matches.
func (i *Installer) downloadOnce(ctx context.Context, f file, dest string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, i.opts.AttemptTimeout)
	defer cancel()
	ctx, stall := context.WithCancelCause(ctx)
	defer stall(nil)
	body, size, err := i.open(ctx, f.loc, f.local)
	if err != nil {
		return err
	}
	defer body.Close()
	if size > f.maxSize {
		return fmt.Errorf("downloading %s: %w: %d bytes announced, at most %d allowed", f.loc, ErrTooLarge, size, f.maxSize)
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+strings.TrimPrefix(filepath.Base(dest), ".")+".download-*")
	if err != nil {
		return fmt.Errorf("creating temp file for %s: %w", dest, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	kick, stopIdle := i.watchIdle(stall)
	defer stopIdle()
	alive := func() { kick(); host.Progress(ctx) }
	if err := i.copyHashed(&capWriter{w: tmp, max: f.maxSize}, h, body, size, f.loc, alive); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errIdle) {
			return fmt.Errorf("downloading %s: %w", f.loc, &readError{cause})
		}
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.sha256 {
		return fmt.Errorf("verifying %s: %w: got %s, want %s", f.loc, ErrChecksumMismatch, got, f.sha256)
	}
	return commit(tmp, dest, f.mode)
}

// errIdle ends a download attempt whose body stalled.
var errIdle = errors.New("no data received")

// watchIdle calls stall when kick is not called for IdleTimeout, so a
// stalled body fails the attempt (and is retried) before the daemon's stall
// rule restarts the daemon mid-download.
func (i *Installer) watchIdle(stall context.CancelCauseFunc) (kick, stop func()) {
	d := i.opts.IdleTimeout
	t := i.clock.NewTimer(d)
	done := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			stall(fmt.Errorf("%w for %s", errIdle, d))
		case <-done:
		}
	}()
	return func() { t.Reset(d) }, func() { t.Stop(); close(done) }
}

// copyHashed copies body into w and h, reporting progress, and checks the
// length against the announced size. alive hears every chunk: on a slow
// link the daemon's watchdog must see the bytes arrive (host.Progress).
func (i *Installer) copyHashed(w io.Writer, h hash.Hash, body io.Reader, size int64, loc string, alive func()) error {
	dst := io.MultiWriter(w, h, aliveWriter(alive))
	if i.opts.Progress != nil {
		dst = io.MultiWriter(dst, &progressWriter{total: size, fn: i.opts.Progress})
	}
	n, err := pipeCopy(dst, &errTagReader{r: body})
	if err != nil {
		return fmt.Errorf("downloading %s: %w", loc, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("downloading %s: %w", loc, &readError{fmt.Errorf("got %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)})
	}
	return nil
}

// commit makes the verified temp file dest: mode, fsync, rename, dir fsync.
func commit(tmp *os.File, dest string, mode fs.FileMode) error {
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	return renameSynced(tmp.Name(), dest)
}

// renameSynced renames from over to (same directory) and fsyncs the
// directory, so the rename survives a power loss.
func renameSynced(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("replacing %s: %w", to, err)
	}
	d, err := os.Open(filepath.Dir(to))
	if err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Dir(to), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Dir(to), err)
	}
	return nil
}

// ErrTooLarge is a download bigger than its cap; nothing was installed.
var ErrTooLarge = errors.New("larger than allowed")

// capWriter writes to w until left bytes are used up, then refuses: the
// file is never written past its cap.
type capWriter struct {
	w         io.Writer
	max, done int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.done+int64(len(p)) > c.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
	}
	c.done += int64(len(p))
	return c.w.Write(p)
}

// errTagReader marks read failures as readError so the caller can tell a
// broken-off download (worth retrying) from a local write failure.
type errTagReader struct{ r io.Reader }

func (e *errTagReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// onlyReader hides WriterTo so io.CopyBuffer uses our large buffer.
type onlyReader struct{ io.Reader }

// aliveWriter calls itself on every chunk written.
type aliveWriter func()

func (a aliveWriter) Write(b []byte) (int, error) {
	a()
	return len(b), nil
}

type progressWriter struct {
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.fn(p.done, p.total)
	return len(b), nil
}

// hashFile returns the hex sha256 of the file at p.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, onlyReader{f}, make([]byte, copyBufSize)); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
