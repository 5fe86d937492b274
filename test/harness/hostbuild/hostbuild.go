// Package hostbuild is what the booted-container tests (test/crash,
// test/uninstall) need before they start: the host able to boot a
// container, a nodeagent binary built from this tree, and the k3s
// stand-in.
package hostbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireHost skips the test in -short and when the host lacks root or one
// of tools; under CI or NODEAGENT_INTEGRATION=1 a missing one fails it
// instead, so CI cannot go green by skipping. what names the test.
func RequireHost(t testing.TB, what string, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a container and a k3s stand-in: not in -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := what + " needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Nodeagent builds ./cmd/nodeagent of the repository at repoRoot, static,
// into the test's temporary directory.
func Nodeagent(t testing.TB, repoRoot string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nodeagent")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/nodeagent")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nodeagent: %v\n%s", err, out)
	}
	return bin
}

// Standin returns the cached k3s stand-in ($K3S_STANDIN when set), building
// it if needed (minutes on a fresh machine). The build script prints the
// binary's path on its last line.
func Standin(t testing.TB, repoRoot string) string {
	t.Helper()
	if p := os.Getenv("K3S_STANDIN"); p != "" {
		return p
	}
	out, err := exec.Command(filepath.Join(repoRoot, "test/tools/build-k3s-standin.sh")).Output()
	if err != nil {
		t.Fatalf("building the k3s stand-in: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
