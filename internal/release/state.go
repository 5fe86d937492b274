package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// installState is the hash cache: a file's verified sha256 keyed by its
// size and mtime, and the hash each release asset URL verified against. It
// only ever saves work: a missing or unreadable state means "hash again".
type installState struct {
	Files    map[string]fileStamp `json:"files"`
	Releases map[string]string    `json:"releases"`
	// Versions maps a verified binary's sha256 to its release version, so
	// the installed binary's version is known without running it.
	Versions map[string]string `json:"versions,omitempty"`
	dirty    bool
}

// fileStamp identifies a file version without reading it. ctime and inode
// are included because a same-size rewrite can keep its mtime (utimes, or
// two writes within one coarse kernel clock tick), but not its ctime.
type fileStamp struct {
	Size    int64  `json:"size"`
	MTimeNs int64  `json:"mtimeNs"`
	CTimeNs int64  `json:"ctimeNs"`
	Inode   uint64 `json:"inode"`
	SHA256  string `json:"sha256"`
}

func stampOf(fi os.FileInfo, sum string) fileStamp {
	s := fileStamp{Size: fi.Size(), MTimeNs: fi.ModTime().UnixNano(), SHA256: sum}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.CTimeNs = st.Ctim.Nano()
		s.Inode = st.Ino
	}
	return s
}

func (i *Installer) loadState() *installState {
	st := &installState{Files: map[string]fileStamp{}, Releases: map[string]string{}, Versions: map[string]string{}}
	data, err := os.ReadFile(i.root.Path(i.opts.StatePath))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			i.log.Warn("ignoring unreadable install state", zap.Error(err))
		}
		return st
	}
	if err := json.Unmarshal(data, st); err != nil {
		i.log.Warn("ignoring corrupt install state", zap.Error(err))
		return &installState{Files: map[string]fileStamp{}, Releases: map[string]string{}, Versions: map[string]string{}}
	}
	if st.Files == nil {
		st.Files = map[string]fileStamp{}
	}
	if st.Releases == nil {
		st.Releases = map[string]string{}
	}
	if st.Versions == nil {
		st.Versions = map[string]string{}
	}
	return st
}

// saveState writes the cache when it changed in this run.
func (i *Installer) saveState(st *installState) error {
	if !st.dirty {
		return nil
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding install state: %w", err)
	}
	if _, err := host.WriteFileAtomic(i.root.Path(i.opts.StatePath), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving install state: %w", err)
	}
	return nil
}

// upToDate reports whether the file at p has hash want: from the cache when
// size and mtime match, else by hashing it (and caching the result).
func (st *installState) upToDate(p, want string) (bool, error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", p, err)
	}
	if c, ok := st.Files[p]; ok && c == stampOf(fi, c.SHA256) {
		return c.SHA256 == want, nil
	}
	got, err := hashFile(p)
	if err != nil {
		return false, err
	}
	st.set(p, stampOf(fi, got))
	return got == want, nil
}

// stamp records the hash of a file just written.
func (st *installState) stamp(p, sum string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("checking %s: %w", p, err)
	}
	st.set(p, stampOf(fi, sum))
	return nil
}

func (st *installState) set(p string, s fileStamp) {
	if st.Files[p] != s {
		st.Files[p] = s
		st.dirty = true
	}
}

// forget drops the entry of a file that is gone (a staged file renamed or removed).
func (st *installState) forget(p string) {
	if _, ok := st.Files[p]; ok {
		delete(st.Files, p)
		st.dirty = true
	}
}

func (st *installState) rememberRelease(loc, sum string) {
	if st.Releases[loc] != sum {
		st.Releases[loc] = sum
		st.dirty = true
	}
}

func (st *installState) rememberVersion(sum, version string) {
	if st.Versions[sum] != version {
		st.Versions[sum] = version
		st.dirty = true
	}
}

// verifiedRelease reports whether the file at p is, by its cached stamp, a
// binary verified for a release: only such a binary is kept as the previous
// one (a damaged or hand-made file is not worth going back to).
func (st *installState) verifiedRelease(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	c, ok := st.Files[p]
	if !ok || c != stampOf(fi, c.SHA256) {
		return false
	}
	_, ok = st.Versions[c.SHA256]
	return ok
}
