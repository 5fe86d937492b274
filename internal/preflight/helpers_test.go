package preflight

import (
	"os"
	"path/filepath"
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
