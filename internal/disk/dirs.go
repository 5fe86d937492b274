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
func ApplyDirs(base string, changes []DirChange) error {
	for _, c := range changes {
		p := filepath.Join(base, c.Path)
		if c.Create {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("creating parents of %s: %w", c.Path, err)
			}
			if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("creating %s: %w", c.Path, err)
			}
		}
		if c.Chown {
			if err := os.Lchown(p, c.Owner, c.Group); err != nil {
				return fmt.Errorf("setting owner of %s: %w", c.Path, err)
			}
		}
		if c.Chmod {
			// Chmod after chown: chown clears setuid/setgid bits.
			if err := os.Chmod(p, toGoMode(c.Mode)); err != nil {
				return fmt.Errorf("setting mode of %s: %w", c.Path, err)
			}
		}
	}
	return nil
}

func toGoMode(m fs.FileMode) fs.FileMode {
	out := m.Perm()
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
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
