package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cluster file is applied with the admin's credentials: Load reads it
// only if root alone could have written it (issue #22 item 5).
func TestLoadRefusesUntrusted(t *testing.T) {
	tests := []struct {
		name    string
		write   func(t *testing.T, dir string) (path string)
		wantErr string // "" loads; {dir} stands for the directory
	}{
		{name: "root's 0644 file", write: func(t *testing.T, dir string) string {
			return writeCluster(t, dir, "cluster.yaml", 0o644)
		}},
		{name: "a file writable by others", write: func(t *testing.T, dir string) string {
			return writeCluster(t, dir, "cluster.yaml", 0o666)
		}, wantErr: "reading cluster file: {dir}/cluster.yaml: writable by others (mode 0666); refusing to use it — chmod o-w {dir}/cluster.yaml"},
		{name: "a file owned by another user", write: func(t *testing.T, dir string) string {
			path := writeCluster(t, dir, "cluster.yaml", 0o644)
			if os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return path
		}, wantErr: "{dir}/cluster.yaml: owned by uid 65534, not root"},
		{name: "a link to a file elsewhere", write: func(t *testing.T, dir string) string {
			target := writeCluster(t, t.TempDir(), "mine.yaml", 0o644)
			link := filepath.Join(dir, "cluster.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, wantErr: "{dir}/cluster.yaml: a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.write(t, dir)
			f, err := Load(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load(%s): %v", path, err)
				}
				if len(f.Servers()) != 3 {
					t.Errorf("servers = %d, want the built-in homelab's 3", len(f.Servers()))
				}
				return
			}
			want := strings.ReplaceAll(tt.wantErr, "{dir}", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Load(%s) error = %v, want one containing %q", path, err, want)
			}
		})
	}
}

// writeCluster writes the built-in homelab as name in dir with mode (not
// the umask's).
func writeCluster(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
