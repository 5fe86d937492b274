package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The files nodeagent applies with the cluster's admin credentials (the
// cluster file, the manifest overlay, an air-gap k3s release) must be ones
// only root could have written: issue #22 item 5. The rule, as sudo's for
// sudoers and OpenSSH's StrictModes:
//
//   - the file and every directory on the way to it, from "/", is owned by
//     root or by the user nodeagent runs as (so a test run by a plain user
//     trusts that user's own files; as root, only root's);
//   - none is writable by others, nor by a group other than root's (or the
//     running user's); a directory writable by others is accepted only with
//     the sticky bit (/tmp), where no one else can rename or replace our
//     entries;
//   - the file itself is never a symbolic link, so a link cannot lead out of
//     the directory, even to a file that would pass; links in the path to
//     the directory are followed, and each directory and link met on the way
//     is checked too.
//
// The file is opened relative to the checked directory with O_NOFOLLOW and
// its owner and mode are checked on the open descriptor, so what is read is
// what was checked.

// maxLinks bounds the links followed while resolving a directory, as
// Linux's MAXSYMLINKS (40).
const maxLinks = 40

// UntrustedError is a file or directory nodeagent refuses to read: what is
// wrong with it and the command that fixes it.
type UntrustedError struct {
	Path    string
	Problem string
	Fix     string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s: %s; refusing to use it — %s", e.Path, e.Problem, e.Fix)
}

// trust is who, besides root, may own and write what nodeagent reads.
type trust struct{ uid, gid uint32 }

func currentTrust() trust {
	return trust{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
}

// check refuses a file or directory that someone other than root or the
// running user could have written.
func (t trust) check(path string, st *unix.Stat_t) error {
	mode := st.Mode & 0o7777
	switch {
	case st.Uid != 0 && st.Uid != t.uid:
		return &UntrustedError{Path: path, Problem: fmt.Sprintf("owned by uid %d, not root", st.Uid), Fix: "chown root " + path}
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		// A link's own mode is always 0777 and means nothing.
		return nil
	case mode&0o002 != 0 && !(isDir(st) && mode&unix.S_ISVTX != 0):
		return &UntrustedError{Path: path, Problem: fmt.Sprintf("writable by others (mode %04o)", mode), Fix: "chmod o-w " + path}
	case mode&0o020 != 0 && st.Gid != 0 && st.Gid != t.gid:
		return &UntrustedError{Path: path, Problem: fmt.Sprintf("writable by group %d (mode %04o)", st.Gid, mode), Fix: "chmod g-w " + path}
	}
	return nil
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

func lstat(path string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return &st, nil
}

// resolveDir returns the real path of dir after checking every directory
// and link on the way from "/" to it.
func (t trust) resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	st, err := lstat("/")
	if err != nil {
		return "", err
	}
	if err := t.check("/", st); err != nil {
		return "", err
	}
	done, rest, links := "/", strings.Split(abs, "/"), 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			done = filepath.Dir(done)
			continue
		}
		next := filepath.Join(done, name)
		st, err := lstat(next)
		if err != nil {
			return "", err
		}
		// A link in a sticky directory may be another user's.
		if err := t.check(next, st); err != nil {
			return "", err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			done = next
		case unix.S_IFLNK:
			if links++; links > maxLinks {
				return "", &fs.PathError{Op: "resolving", Path: dir, Err: unix.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if filepath.IsAbs(target) {
				done = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
		default:
			return "", &fs.PathError{Op: "resolving", Path: next, Err: unix.ENOTDIR}
		}
	}
	return done, nil
}

// TrustedDir is a directory whose path only root (or the running user)
// could have changed; its files are opened only if they pass the same test.
type TrustedDir struct {
	path  string // as the caller named it, for errors
	dir   *os.File
	trust trust
}

// OpenTrustedDir opens dir for reading its files. A missing directory is an
// error satisfying errors.Is(err, fs.ErrNotExist).
func OpenTrustedDir(dir string) (*TrustedDir, error) {
	t := currentTrust()
	real, err := t.resolveDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(real, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return &TrustedDir{path: dir, dir: f, trust: t}, nil
}

// Close releases the directory.
func (d *TrustedDir) Close() error { return d.dir.Close() }

// ReadDir lists the directory's entries, sorted by name.
func (d *TrustedDir) ReadDir() ([]fs.DirEntry, error) {
	entries, err := d.dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", d.path, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Open opens the regular file name of the directory, refusing a link, a
// file that is not regular, and one that fails the ownership and mode test.
func (d *TrustedDir) Open(name string) (*os.File, error) {
	path := filepath.Join(d.path, name)
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return nil, fmt.Errorf("opening %s: %q is not a file name", path, name)
	}
	// O_NONBLOCK: opening a FIFO must not hang the agent; it is refused below.
	fd, err := unix.Openat(int(d.dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, &UntrustedError{Path: path, Problem: "a symbolic link, which nodeagent does not follow out of " + d.path,
			Fix: "put the file itself in its place"}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := d.checkOpen(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOpen tests the opened file itself, so what is read is what passed.
func (d *TrustedDir) checkOpen(f *os.File, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &UntrustedError{Path: path, Problem: "not a regular file", Fix: "put a regular file in its place"}
	}
	return d.trust.check(path, &st)
}

// ReadFile reads the file name of the directory, as Open checks it.
func (d *TrustedDir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// OpenTrusted opens the file at path if it and its directories pass the
// test of TrustedDir.
func OpenTrusted(path string) (*os.File, error) {
	d, err := OpenTrustedDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Open(filepath.Base(path))
}

// ReadTrusted reads the file at path if it and its directories pass the
// test of TrustedDir.
func ReadTrusted(path string) ([]byte, error) {
	f, err := OpenTrusted(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
