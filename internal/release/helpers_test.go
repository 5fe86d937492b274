package release

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
)

func newRoot(t *testing.T) host.Root {
	t.Helper()
	return host.NewRoot(t.TempDir())
}

// writeTree writes files (host path -> content) under root.
func writeTree(t *testing.T, root host.Root, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := root.Path(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listDir returns the sorted names in dir (empty when missing).
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
