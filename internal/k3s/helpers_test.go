package k3s

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"os"
	"sort"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

func newRoot(t *testing.T) host.Root {
	t.Helper()
	return host.NewRoot(t.TempDir())
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

func testOptions() release.Options {
	return release.Options{
		Timeout: 20 * time.Second, AttemptTimeout: 10 * time.Second, HeaderTimeout: 5 * time.Second,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond,
		Retries: 3, Attempts: 3,
	}
}

// payload returns n deterministic pseudo-random bytes tagged by seed.
func payload(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
