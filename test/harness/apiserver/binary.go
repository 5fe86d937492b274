package apiserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Version is the kube-apiserver release the harness runs. Keep in step with
// test/tools/kube-apiserver/go.mod and test/tools/build-kube-apiserver.sh.
const Version = "v1.37.2"

// BuildCommand is the command that builds and caches the binary.
const BuildCommand = "test/tools/build-kube-apiserver.sh"

// BinaryPath returns where the kube-apiserver binary is expected:
// $NODEAGENT_KUBE_APISERVER if set, else the version-keyed cache path that
// BuildCommand writes.
func BinaryPath() (string, error) {
	if p := os.Getenv("NODEAGENT_KUBE_APISERVER"); p != "" {
		return p, nil
	}
	cache := os.Getenv("NODEAGENT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locating kube-apiserver cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "nodeagent")
	}
	return filepath.Join(cache, "kube-apiserver-"+Version, "kube-apiserver"), nil
}

// requireBinary returns the binary's path, or skips the test when it is
// missing — unless integration tests are mandatory (CI=true or
// NODEAGENT_INTEGRATION=1), where a missing binary is a failure rather than
// a silently green run.
func requireBinary(t testing.TB) string {
	t.Helper()
	path, err := BinaryPath()
	if err == nil {
		_, err = os.Stat(path)
	}
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("kube-apiserver binary not available (%v); build it with: %s", err, BuildCommand)
	if integrationRequired() || !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func integrationRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1"
}
