package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/config"
)

// DirChange is what one configured directory needs; the zero value beyond
// Path means it is already right.
type DirChange struct {
	Path   string // relative to the mount point
	Create bool
	Chown  bool
	Chmod  bool
	Owner  int
	Group  int
	Mode   fs.FileMode
}

// Needed reports whether the directory needs any change.
func (c DirChange) Needed() bool { return c.Create || c.Chown || c.Chmod }

// DiffDirs compares the configured directories with what is below base (the
// mount point as seen through the host root). It only reads.
func DiffDirs(base string, dirs []config.Directory) ([]DirChange, error) {
	var out []DirChange
	for _, dir := range dirs {
		c, err := diffDir(base, dir)
		if err != nil {
			return nil, err
		}
		if c.Needed() {
			out = append(out, c)
		}
	}
	return out, nil
}

func diffDir(base string, dir config.Directory) (DirChange, error) {
	mode, err := strconv.ParseUint(dir.Mode, 8, 32)
	if err != nil {
		return DirChange{}, fmt.Errorf("directory %s: mode %q: %w", dir.Path, dir.Mode, err)
	}
	c := DirChange{Path: dir.Path, Owner: dir.Owner, Group: dir.Group, Mode: fs.FileMode(mode)}
	if err := checkNoSymlink(base, dir.Path); err != nil {
		return c, err
	}
	fi, err := os.Lstat(filepath.Join(base, dir.Path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Create, c.Chown, c.Chmod = true, true, true
		return c, nil
	case err != nil:
		return c, fmt.Errorf("inspecting %s: %w", dir.Path, err)
	case !fi.IsDir():
		return c, fmt.Errorf("%s exists and is not a directory; leaving it alone", dir.Path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	c.Chown = !ok || int(st.Uid) != dir.Owner || int(st.Gid) != dir.Group
	c.Chmod = fileMode(fi) != c.Mode
	return c, nil
}

// fileMode is the permission bits plus setuid/setgid/sticky in the octal
// layout the config uses.
func fileMode(fi fs.FileInfo) fs.FileMode {
	m := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// checkNoSymlink refuses a path whose existing components are symlinks: a
// link could point off the data disk, onto the SD card.
func checkNoSymlink(base, rel string) error {
	cur := base
	for _, part := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inspecting %s: %w", cur, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink; refusing to manage %s through it", cur, rel)
		}
	}
	return nil
}

// ApplyDirs makes the changes; it creates and fixes, never deletes. Missing
// parents of nested paths are created root-owned 0755.
//
// DiffDirs checked for symlinks, but a path can be swapped for one between
// that check and now: every component is opened without following links
// and the owner and mode are set on the opened descriptor, never by path.
func ApplyDirs(base string, changes []DirChange) error {
	for _, c := range changes {
		if err := applyDir(base, c); err != nil {
			return err
		}
	}
	return nil
}

func applyDir(base string, c DirChange) error {
	fd, err := openDirNoFollow(base, c.Path, c.Create)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if c.Chown {
		if err := unix.Fchown(fd, c.Owner, c.Group); err != nil {
			return fmt.Errorf("setting owner of %s: %w", c.Path, err)
		}
	}
	if c.Chmod {
		// Chmod after chown: chown clears setuid/setgid bits. Fchmod
		// takes the octal layout of the config as it is.
		if err := unix.Fchmod(fd, uint32(c.Mode)); err != nil {
			return fmt.Errorf("setting mode of %s: %w", c.Path, err)
		}
	}
	return nil
}

// openDirNoFollow opens base/rel one component at a time with O_NOFOLLOW,
// creating missing ones when create is set (parents 0755, the directory
// itself 0700 until its mode is set), and returns the descriptor of rel.
func openDirNoFollow(base, rel string, create bool) (int, error) {
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", base, err)
	}
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		mode := uint32(0o755)
		if i == len(parts)-1 {
			mode = 0o700
		}
		next, err := openChildDir(fd, part, create, mode)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("opening %s: %w", strings.Join(parts[:i+1], "/"), err)
		}
		fd = next
	}
	return fd, nil
}

// openChildDir opens the directory name below dirfd, refusing a symlink
// (ELOOP) or anything else that is not a directory (ENOTDIR).
func openChildDir(dirfd int, name string, create bool, mode uint32) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err := unix.Mkdirat(dirfd, name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("not a directory or a symlink, refusing to follow it: %w", err)
	}
	return fd, err
}

// describe renders a change for logs and plans.
func (c DirChange) describe() string {
	var parts []string
	if c.Create {
		parts = append(parts, "create")
	}
	if c.Chown {
		parts = append(parts, fmt.Sprintf("owner %d:%d", c.Owner, c.Group))
	}
	if c.Chmod {
		parts = append(parts, fmt.Sprintf("mode %04o", uint32(c.Mode)))
	}
	return c.Path + ": " + strings.Join(parts, ", ")
}
