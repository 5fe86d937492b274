package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root, found from this file so `go test` works
// from any directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("locating the repository: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// artifacts are what the test builds from the tree.
type artifacts struct {
	Deb string // nodeagent_<version>_amd64.deb
}

// buildArtifacts builds nodeagent and nodeagentd for amd64 and packs them with
// packaging/build-deb.sh, exactly as `make deb` does, into a temp dir.
func buildArtifacts(t *testing.T) artifacts {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var a artifacts
	bin := filepath.Join(dir, "bin")
	goBuild(ctx, t, root, bin+"/", "./cmd/nodeagent", "./cmd/nodeagentd")
	out, err := exec.CommandContext(ctx, filepath.Join(root, "packaging", "build-deb.sh"),
		"0.0.0+e2e", "amd64", bin, dir).Output()
	if err != nil {
		t.Fatalf("building the .deb: %v", stderrOf(err))
	}
	a.Deb = strings.TrimSpace(string(out))
	return a
}

func goBuild(ctx context.Context, t *testing.T, dir, out string, pkgs ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags", "-s -w -X main.version=e2e", "-o", out}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", strings.Join(pkgs, " "), err, b)
	}
}

// k3sStandin builds (or finds cached) the test-only k3s stand-in and
// returns its path; variant are the build script's arguments for a variant
// (--version V, --fail-at-start), which costs a link. Without the build
// script the scenario cannot go past the k3s phase: the test fails when
// integration is mandatory.
func k3sStandin(t *testing.T, variant ...string) string {
	t.Helper()
	if p := os.Getenv("NODEAGENT_K3S_STANDIN"); p != "" && len(variant) == 0 {
		return p
	}
	script := filepath.Join(repoRoot(t), "test", "tools", "build-k3s-standin.sh")
	if _, err := os.Stat(script); err != nil {
		requireOrSkip(t, "k3s stand-in build script missing: "+script)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, script, variant...).Output()
	if err != nil {
		t.Fatalf("building the k3s stand-in %v: %v", variant, stderrOf(err))
	}
	path := strings.TrimSpace(lastLine(string(out)))
	t.Logf("k3s stand-in %s (ready in %s)", path, time.Since(start).Round(time.Millisecond))
	return path
}

// requireOrSkip fails when integration tests are mandatory, else skips.
func requireOrSkip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return err.Error() + ": " + string(ee.Stderr)
	}
	return err.Error()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
