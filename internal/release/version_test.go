package release

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// The installed binary's version is the one it was verified for; a staged
// release changes nothing until committed, and a binary nodeagent never
// verified has no known version.
func TestInstalledVersion(t *testing.T) {
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	ctx := context.Background()
	release := func(version string, bin []byte) config.K3s {
		dir := root.Path("/srv/k3s/" + version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "k3s-arm64"), bin)
		writeFile(t, filepath.Join(dir, "sha256sum-arm64.txt"), []byte(sha(bin)+"  k3s-arm64\n"))
		return config.K3s{Version: version, ReleaseBase: "/srv/k3s"}
	}
	check := func(want string, wantKnown bool) {
		t.Helper()
		got, known, err := inst.InstalledVersion()
		if err != nil || got != want || known != wantKnown {
			t.Fatalf("InstalledVersion = %q, %v, %v; want %q, %v", got, known, err, want, wantKnown)
		}
	}
	check("", false)
	a := release("v1.33.5+k3s1", payload(1, 4096))
	if _, err := inst.Install(ctx, a, "arm64"); err != nil {
		t.Fatal(err)
	}
	check("v1.33.5+k3s1", true)
	b := release("v1.34.1+k3s1", payload(2, 4096))
	s, err := inst.Stage(ctx, b, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	check("v1.33.5+k3s1", true)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	check("v1.34.1+k3s1", true)
	writeFile(t, root.Path(BinaryPath), []byte("a k3s installed by hand"))
	check("", false)
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Committing a new binary keeps the one it replaces at PreviousPath, and
// RestorePrevious puts it back (keeping it there too).
func TestPreviousBinaryKeptAndRestored(t *testing.T) {
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	ctx := context.Background()
	binA, binB := payload(1, 4096), payload(2, 4096)
	for v, bin := range map[string][]byte{"v1.33.5+k3s1": binA, "v1.33.6+k3s1": binB} {
		dir := root.Path("/srv/k3s/" + v)
		writeFile(t, filepath.Join(dir, "k3s-arm64"), bin)
		writeFile(t, filepath.Join(dir, "sha256sum-arm64.txt"), []byte(sha(bin)+"  k3s-arm64\n"))
	}
	read := func(p string) string {
		data, err := os.ReadFile(root.Path(p))
		if err != nil {
			return "missing"
		}
		return sha(data)
	}
	if _, err := inst.Install(ctx, config.K3s{Version: "v1.33.5+k3s1", ReleaseBase: "/srv/k3s"}, "arm64"); err != nil {
		t.Fatal(err)
	}
	if got := read(PreviousPath); got != "missing" {
		t.Errorf("a first install kept a previous binary: %s", got)
	}
	if _, err := inst.Install(ctx, config.K3s{Version: "v1.33.6+k3s1", ReleaseBase: "/srv/k3s"}, "arm64"); err != nil {
		t.Fatal(err)
	}
	if read(BinaryPath) != sha(binB) || read(PreviousPath) != sha(binA) {
		t.Fatalf("after the upgrade: binary %s previous %s; want B and A", read(BinaryPath), read(PreviousPath))
	}
	if err := inst.RestorePrevious(); err != nil {
		t.Fatal(err)
	}
	if read(BinaryPath) != sha(binA) || read(PreviousPath) != sha(binA) {
		t.Errorf("after the restore: binary %s previous %s; want A and A", read(BinaryPath), read(PreviousPath))
	}
	if v, known, err := inst.InstalledVersion(); err != nil || !known || v != "v1.33.5+k3s1" {
		t.Errorf("installed version after the restore: %q %v %v", v, known, err)
	}
	fi, err := os.Stat(root.Path(BinaryPath))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("restored binary mode %v, %v; want 0755", fi.Mode(), err)
	}
}
