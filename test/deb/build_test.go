package deb

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
)

// repoRoot is the module root, two levels above this package (go test runs
// in the package directory).
const repoRoot = "../.."

// requireHost skips (or fails when integration tests are mandatory) when
// this machine cannot build and install the package in a container.
func requireHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a .deb and boots a container: not in -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "dpkg-deb", "lintian", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "the package test needs " + strings.Join(missing, ", ") +
		" (apt-get install systemd-container dpkg-dev lintian)"
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// buildDeb builds nodeagent and nodeagentd for this machine's architecture
// with the release flags of the Makefile and version, then packages them
// with packaging/build-deb.sh into dir.
func buildDeb(ctx context.Context, dir, version string) (string, error) {
	return buildDebFor(ctx, dir, version, runtime.GOARCH)
}

// buildDebFor is buildDeb for the Go architecture arch (amd64, arm64).
func buildDebFor(ctx context.Context, dir, version, arch string) (string, error) {
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		return "", fmt.Errorf("locating the repository: %w", err)
	}
	bin, err := buildBinaries(ctx, dir, version, arch)
	if err != nil {
		return "", err
	}
	pkg := exec.CommandContext(ctx, filepath.Join(abs, "packaging", "build-deb.sh"),
		version, arch, bin, dir)
	// xz at its default level takes most of a minute for the 50 MB binary
	// on a loaded 2-core machine; the test needs the package, not its
	// ratio (dpkg-deb(1): -z on the command line would win, so the script
	// keeps its say).
	pkg.Env = append(os.Environ(), "DPKG_DEB_COMPRESSOR_LEVEL=0")
	out, err := run(pkg)
	if err != nil {
		return "", fmt.Errorf("packaging nodeagent %s: %w", version, err)
	}
	deb := strings.TrimSpace(out)
	if want := filepath.Join(dir, fmt.Sprintf("nodeagent_%s_%s.deb", version, arch)); deb != want {
		return "", fmt.Errorf("build-deb.sh printed %q, want %q", deb, want)
	}
	return deb, nil
}

// buildBinaries builds nodeagent and nodeagentd for arch into a directory
// under dir, which it returns.
func buildBinaries(ctx context.Context, dir, version, arch string) (string, error) {
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		return "", fmt.Errorf("locating the repository: %w", err)
	}
	bin := filepath.Join(dir, "bin-"+version+"-"+arch)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version, "-o", bin+"/", "./cmd/nodeagent", "./cmd/nodeagentd")
	build.Dir = abs
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if _, err := run(build); err != nil {
		return "", fmt.Errorf("building nodeagent %s for %s: %w", version, arch, err)
	}
	return bin, nil
}

// lintianProblems runs lintian on deb and returns its error and warning
// (E:, W:) lines and its whole output.
func lintianProblems(ctx context.Context, deb string) ([]string, string, error) {
	// lintian exits non-zero when it reports errors; the tag lines, not the
	// exit status, are the verdict, and a failure to run at all shows up
	// as output without any tag line.
	out, err := run(exec.CommandContext(ctx, "lintian", "--no-tag-display-limit", deb))
	if err != nil && !strings.Contains(out, "E: ") {
		return nil, out, fmt.Errorf("running lintian: %w", err)
	}
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
			errs = append(errs, l)
		}
	}
	return errs, out, nil
}

// run runs cmd and returns its stdout; the error carries stderr.
func run(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// legacyDeb repacks deb as the packages before 0.2 were laid out: the
// homelab shipped as the active conffile /etc/nodeagent/cluster.yaml, and no
// preinst. The upgrade from it is what the new maintainer scripts handle.
func legacyDeb(ctx context.Context, deb, out string) error {
	tree, err := os.MkdirTemp("", "nodeagent-legacy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	if _, err := run(exec.CommandContext(ctx, "dpkg-deb", "-R", deb, tree)); err != nil {
		return err
	}
	homelab, err := os.ReadFile(filepath.Join(repoRoot, "internal/config/default.yaml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/nodeagent/cluster.yaml"), homelab, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN/conffiles"), []byte("/etc/nodeagent/cluster.yaml\n"), 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(tree, "DEBIAN/preinst")); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", tree, out)
	cmd.Env = append(os.Environ(), "DPKG_DEB_COMPRESSOR_LEVEL=0")
	_, err = run(cmd)
	return err
}
