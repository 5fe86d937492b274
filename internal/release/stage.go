package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// Staged is a release verified and waiting beside its targets. Nothing k3s
// reads has changed yet: an etcd member stages before it claims its restart
// turn and commits inside it, so a crash or a power loss in between restarts
// k3s with the old files (issue #15, item 6).
type Staged struct {
	// InstallResult says what Commit changes.
	InstallResult
	inst  *Installer
	files []file
}

// Changed reports whether Commit replaces any installed file.
func (s *Staged) Changed() bool { return len(s.files) > 0 }

func (s *Staged) add(f file, changed bool) {
	if changed {
		s.files = append(s.files, f)
	}
}

// stagedPath is where dest waits: the same directory, so the commit is a
// rename, and a name k3s never loads (no image suffix: k3s imports
// agent/images/* by suffix, pkg/agent/containerd/containerd.go preloadFile).
func stagedPath(dest string) string {
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".staged")
}

// Commit renames every staged file over its target, keeping the binary it
// replaces at PreviousPath. Each is verified again
// first, by its cached stamp or by hashing, because a turn can take long: a
// staged file that no longer has the hash is removed and never installed.
func (s *Staged) Commit() (err error) {
	if !s.Changed() {
		return nil
	}
	i := s.inst
	st := i.loadState()
	defer func() {
		if serr := i.saveState(st); err == nil {
			err = serr
		}
	}()
	for len(s.files) > 0 {
		f := s.files[0]
		dest := i.root.Path(f.dest)
		staged := stagedPath(dest)
		ok, err := st.upToDate(staged, f.sha256)
		if err != nil {
			return err
		}
		if !ok {
			i.dropStaged(st, dest)
			return fmt.Errorf("installing %s: staged file missing or changed: %w", f.dest, ErrChecksumMismatch)
		}
		if f.dest == BinaryPath && st.verifiedRelease(dest) {
			if err := i.keepPrevious(); err != nil {
				return err
			}
		}
		if err := renameSynced(staged, dest); err != nil {
			return err
		}
		st.forget(staged)
		i.log.Info("installed verified file", zap.String("path", f.dest), zap.String("sha256", f.sha256))
		// A rename changes the ctime, so the stamp is taken again.
		if err := st.stamp(dest, f.sha256); err != nil {
			return err
		}
		s.files = s.files[1:]
	}
	return nil
}

// dropStaged removes the staged file of dest, if any (a leftover of an
// older release, or one that failed verification); failing to is only logged.
func (i *Installer) dropStaged(st *installState, dest string) {
	staged := stagedPath(dest)
	st.forget(staged)
	if err := os.Remove(staged); err != nil && !errors.Is(err, fs.ErrNotExist) {
		i.log.Warn("could not remove a staged file", zap.String("path", staged), zap.Error(err))
	}
}
