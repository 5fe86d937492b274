package nspawn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildScript is test/tools/build-rootfs.sh, found beside this source file
// so tests in any package can run it.
func buildScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("locating build-rootfs.sh: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "tools", "build-rootfs.sh"), nil
}

// marker is the file the build script writes last into a finished rootfs.
const marker = ".nodeagent-rootfs"

// Rootfs returns the cached rootfs directory: $NODEAGENT_ROOTFS, else the
// build script's cache path. A missing rootfs skips the test, or, when
// integration tests are mandatory, is built now (minutes, once per cache).
func Rootfs(t testing.TB) string {
	t.Helper()
	requireHost(t)
	if p := os.Getenv("NODEAGENT_ROOTFS"); p != "" {
		if _, err := os.Stat(filepath.Join(p, marker)); err != nil {
			t.Fatalf("NODEAGENT_ROOTFS=%s is not a finished rootfs: %v", p, err)
		}
		return p
	}
	script, err := buildScript()
	if err != nil {
		t.Fatal(err)
	}
	path, err := runScript(script, "--print-path")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(path, marker)); err == nil {
		return path
	}
	if !integrationRequired() {
		t.Skipf("test rootfs not built at %s; build it with: %s", path, script)
	}
	t.Logf("building test rootfs with %s (minutes, once per cache)", script)
	start := time.Now()
	if path, err = runScript(script); err != nil {
		t.Fatal(err)
	}
	t.Logf("built test rootfs %s in %s", path, time.Since(start).Round(time.Second))
	return path
}

func runScript(script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s %s: %w: %s", script, strings.Join(args, " "), err, lastLines(stderr.String(), 30))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// requireHost skips (or fails, see integrationRequired) when this machine
// cannot run containers: not root, or no systemd-nspawn/nsenter. Booting a
// container is never part of -short (make test-unit).
func requireHost(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a systemd-nspawn container: not in -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("nspawn containers need %s (apt-get install systemd-container util-linux)", strings.Join(missing, ", "))
	if integrationRequired() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func integrationRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
