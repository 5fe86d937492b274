package disk

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestDirsConverge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	base := t.TempDir()
	dirs := []config.Directory{
		{Path: "Library", Owner: 1000, Group: 1000, Mode: "0750"},
		{Path: "backups", Owner: 0, Group: 0, Mode: "0700"},
		{Path: "nested/deeper", Owner: 1000, Group: 100, Mode: "2770"},
	}
	// A drifted directory and an unrelated file that must survive.
	must(t, os.Mkdir(filepath.Join(base, "backups"), 0o777))
	must(t, os.WriteFile(filepath.Join(base, "backups", "keep.tar"), []byte("data"), 0o600))

	changes, err := DiffDirs(base, dirs)
	must(t, err)
	want := []DirChange{
		{Path: "Library", Create: true, Chown: true, Chmod: true, Owner: 1000, Group: 1000, Mode: 0o750},
		{Path: "backups", Chmod: true, Mode: 0o700},
		{Path: "nested/deeper", Create: true, Chown: true, Chmod: true, Owner: 1000, Group: 100, Mode: 0o2770},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Fatalf("DiffDirs (-want +got):\n%s", diff)
	}
	must(t, ApplyDirs(base, changes))
	for _, d := range dirs {
		fi, err := os.Stat(filepath.Join(base, d.Path))
		must(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		got := []any{int(st.Uid), int(st.Gid), fileMode(fi)}
		mode, _ := diffDir(base, d)
		if diff := cmp.Diff([]any{d.Owner, d.Group, mode.Mode}, got); diff != "" {
			t.Errorf("%s owner/group/mode (-want +got):\n%s", d.Path, diff)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "backups", "keep.tar")); err != nil {
		t.Errorf("existing file lost: %v", err)
	}
	again, err := DiffDirs(base, dirs)
	must(t, err)
	if len(again) != 0 {
		t.Errorf("second DiffDirs = %+v, want no changes", again)
	}
}

func TestDirsRefuseSymlinkAndFile(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(base, "Library")))
	must(t, os.WriteFile(filepath.Join(base, "Files"), nil, 0o644))
	for _, p := range []string{"Library", "Library/sub", "Files"} {
		if _, err := DiffDirs(base, []config.Directory{{Path: p, Mode: "0755"}}); err == nil {
			t.Errorf("DiffDirs(%s) accepted a symlink or a file", p)
		}
	}
	entries, err := os.ReadDir(outside)
	must(t, err)
	if len(entries) != 0 {
		t.Errorf("something was written through the symlink: %v", entries)
	}
}

// A directory swapped for a symlink between DiffDirs (the check) and
// ApplyDirs (the change) must not let the owner, mode or a new directory
// reach the link's target, which could be anywhere on the SD card.
func TestApplyDirsRefusesSymlinkSwappedInAfterCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	tests := []struct {
		name    string
		dir     config.Directory
		prepare string // directory that exists when DiffDirs runs
		swap    string // the path swapped for a symlink afterwards
	}{
		{"leaf chmod and chown", config.Directory{Path: "Library", Owner: 1000, Group: 1000, Mode: "0750"}, "Library", "Library"},
		{"parent of a new directory", config.Directory{Path: "nested/deeper", Owner: 1000, Group: 1000, Mode: "0750"}, "nested", "nested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, outside := t.TempDir(), t.TempDir()
			must(t, os.Chmod(outside, 0o755))
			must(t, os.MkdirAll(filepath.Join(base, tt.prepare), 0o777))
			changes, err := DiffDirs(base, []config.Directory{tt.dir})
			must(t, err)
			if len(changes) != 1 {
				t.Fatalf("DiffDirs = %+v, want one change", changes)
			}
			must(t, os.Rename(filepath.Join(base, tt.swap), filepath.Join(base, "moved-away")))
			must(t, os.Symlink(outside, filepath.Join(base, tt.swap)))

			err = ApplyDirs(base, changes)
			if err == nil || !strings.Contains(err.Error(), tt.swap) {
				t.Errorf("ApplyDirs = %v, want an error naming %s", err, tt.swap)
			}
			fi, err := os.Stat(outside)
			must(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			if got := []any{fi.Mode().Perm(), st.Uid, st.Gid}; !cmp.Equal(got, []any{fs.FileMode(0o755), uint32(0), uint32(0)}) {
				t.Errorf("symlink target changed: mode/uid/gid = %v, want [-rwxr-xr-x 0 0]", got)
			}
			entries, err := os.ReadDir(outside)
			must(t, err)
			if len(entries) != 0 {
				t.Errorf("created through the symlink: %v", entries)
			}
		})
	}
}
