package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the uid and gid the tests give files to that are not the
// running user's.
const nobody = 65534

// trustTree is a directory "etc" holding good.yaml (0644), and a directory
// "outside" beside it holding another good file, all with explicit modes
// (not the umask's).
func trustTree(t *testing.T) (base string) {
	t.Helper()
	base = t.TempDir()
	for _, d := range []string{"etc", "outside"} {
		mkdir(t, filepath.Join(base, d), 0o755)
		writeMode(t, filepath.Join(base, d, "good.yaml"), 0o644)
	}
	return base
}

func mkdir(t *testing.T, path string, mode uint32) {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode)
}

func writeMode(t *testing.T, path string, mode uint32) {
	t.Helper()
	if err := os.WriteFile(path, []byte("kind: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode)
}

// chmod sets mode bits including sticky, which os.Chmod spells differently.
func chmod(t *testing.T, path string, mode uint32) {
	t.Helper()
	if err := unix.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestReadTrusted(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, base string) (path string)
		wantErr string // "" is readable; "{base}" stands for the tree
	}{
		{name: "root's 0644 file in a 0755 directory", setup: func(t *testing.T, base string) string {
			return filepath.Join(base, "etc/good.yaml")
		}},
		{name: "a file writable by others", setup: func(t *testing.T, base string) string {
			writeMode(t, filepath.Join(base, "etc/x.yaml"), 0o666)
			return filepath.Join(base, "etc/x.yaml")
		}, wantErr: "{base}/etc/x.yaml: writable by others (mode 0666); refusing to use it — chmod o-w {base}/etc/x.yaml"},
		{name: "a file owned by another user", setup: func(t *testing.T, base string) string {
			chown(t, filepath.Join(base, "etc/good.yaml"), nobody, 0)
			return filepath.Join(base, "etc/good.yaml")
		}, wantErr: "{base}/etc/good.yaml: owned by uid 65534, not root"},
		{name: "a file writable by another group", setup: func(t *testing.T, base string) string {
			writeMode(t, filepath.Join(base, "etc/g.yaml"), 0o664)
			chown(t, filepath.Join(base, "etc/g.yaml"), 0, nobody)
			return filepath.Join(base, "etc/g.yaml")
		}, wantErr: "{base}/etc/g.yaml: writable by group 65534 (mode 0664)"},
		{name: "a file writable by root's group", setup: func(t *testing.T, base string) string {
			writeMode(t, filepath.Join(base, "etc/g.yaml"), 0o664)
			chown(t, filepath.Join(base, "etc/g.yaml"), 0, 0)
			return filepath.Join(base, "etc/g.yaml")
		}},
		{name: "a directory writable by others", setup: func(t *testing.T, base string) string {
			chmod(t, filepath.Join(base, "etc"), 0o777)
			return filepath.Join(base, "etc/good.yaml")
		}, wantErr: "{base}/etc: writable by others (mode 0777)"},
		{name: "a parent directory owned by another user", setup: func(t *testing.T, base string) string {
			chown(t, base, nobody, nobody)
			return filepath.Join(base, "etc/good.yaml")
		}, wantErr: "{base}: owned by uid 65534, not root"},
		{name: "a sticky directory writable by others, as /tmp", setup: func(t *testing.T, base string) string {
			chmod(t, filepath.Join(base, "etc"), 0o1777)
			return filepath.Join(base, "etc/good.yaml")
		}},
		{name: "a link out of the directory", setup: func(t *testing.T, base string) string {
			symlink(t, "../outside/good.yaml", filepath.Join(base, "etc/x.yaml"))
			return filepath.Join(base, "etc/x.yaml")
		}, wantErr: "{base}/etc/x.yaml: a symbolic link, which nodeagent does not follow out of {base}/etc"},
		{name: "a link to a file of the same directory", setup: func(t *testing.T, base string) string {
			symlink(t, "good.yaml", filepath.Join(base, "etc/x.yaml"))
			return filepath.Join(base, "etc/x.yaml")
		}, wantErr: "{base}/etc/x.yaml: a symbolic link"},
		{name: "a FIFO is refused without hanging", setup: func(t *testing.T, base string) string {
			if err := unix.Mkfifo(filepath.Join(base, "etc/p.yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(base, "etc/p.yaml")
		}, wantErr: "{base}/etc/p.yaml: not a regular file"},
		{name: "a directory reached through root's link", setup: func(t *testing.T, base string) string {
			symlink(t, "outside", filepath.Join(base, "conf"))
			return filepath.Join(base, "conf/good.yaml")
		}},
		{name: "a link on the way into a directory writable by others", setup: func(t *testing.T, base string) string {
			chmod(t, filepath.Join(base, "outside"), 0o777)
			symlink(t, "../outside", filepath.Join(base, "etc/conf"))
			return filepath.Join(base, "etc/conf/good.yaml")
		}, wantErr: "{base}/outside: writable by others (mode 0777)"},
		{name: "another user's link in a sticky directory", setup: func(t *testing.T, base string) string {
			chmod(t, filepath.Join(base, "etc"), 0o1777)
			symlink(t, "../outside", filepath.Join(base, "etc/conf"))
			chown(t, filepath.Join(base, "etc/conf"), nobody, nobody)
			return filepath.Join(base, "etc/conf/good.yaml")
		}, wantErr: "{base}/etc/conf: owned by uid 65534, not root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := trustTree(t)
			path := tt.setup(t, base)
			data, err := ReadTrusted(path)
			want := strings.ReplaceAll(tt.wantErr, "{base}", base)
			if want == "" {
				if err != nil {
					t.Fatalf("ReadTrusted(%s): %v, want it read", path, err)
				}
				if string(data) != "kind: x\n" {
					t.Fatalf("ReadTrusted(%s) = %q", path, data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("ReadTrusted(%s) error = %v, want one containing %q", path, err, want)
			}
			if want := (&UntrustedError{}); !errors.As(err, &want) {
				t.Errorf("error %v is not an *UntrustedError", err)
			}
		})
	}
}

func TestOpenTrustedDirMissing(t *testing.T) {
	_, err := OpenTrustedDir(filepath.Join(t.TempDir(), "manifests.d"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want one that is fs.ErrNotExist", err)
	}
}
