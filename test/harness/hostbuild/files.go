package hostbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// ChecksumLine is the sha256sum line of the k3s binary at path, as a
// release's checksum file lists it.
func ChecksumLine(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return []byte(fmt.Sprintf("%s  k3s\n", hex.EncodeToString(sum[:])))
}

// CopyIn copies the host file src to dst inside the container.
func CopyIn(t testing.TB, c *nspawn.Container, src, dst string) {
	t.Helper()
	if err := c.CopyIn(src, dst); err != nil {
		t.Fatal(err)
	}
}

// WriteIn writes data to dst inside the container with mode.
func WriteIn(t testing.TB, c *nspawn.Container, dst string, data []byte, mode os.FileMode) {
	t.Helper()
	src := filepath.Join(t.TempDir(), filepath.Base(dst))
	if err := os.WriteFile(src, data, mode); err != nil {
		t.Fatal(err)
	}
	CopyIn(t, c, src, dst)
}
