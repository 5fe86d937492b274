package k3s

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// ensureFixture is a node with a local release, a token and a fake systemd.
type ensureFixture struct {
	root    host.Root
	cluster *config.Cluster
	svc     *FakeServiceManager
	mgr     *Manager
}

func newEnsureFixture(t testing.TB, binSize int) *ensureFixture {
	t.Helper()
	root := host.NewRoot(t.TempDir())
	bin := payload(7, binSize)
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.K3s.ReleaseBase = "/srv/k3s"
	dir := root.Path("/srv/k3s/" + c.K3s.Version)
	mustWrite(t, filepath.Join(dir, "k3s-arm64"), bin, 0o644)
	mustWrite(t, filepath.Join(dir, "sha256sum-arm64.txt"), []byte(sha(bin)+"  k3s-arm64\n"), 0o644)
	for _, f := range []string{c.K3s.TokenFile, c.K3s.AgentTokenFile} {
		if err := GenerateToken(root.Path(f)); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := c.Node("pi4-2")
	svc := NewFakeServiceManager()
	log := zaptest.NewLogger(t)
	inst := release.NewInstaller(root, log, host.RealClock{}, testOptions())
	return &ensureFixture{root: root, cluster: c, svc: svc, mgr: NewManager(root, log, c, n, inst, svc, nil)}
}

func mustWrite(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every file under dir to its inode, size and mtime: a write
// through a temp file and rename changes the inode.
func snapshot(t *testing.T, dir string) map[string][3]int64 {
	t.Helper()
	out := map[string][3]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = [3]int64{int64(fi.Sys().(*syscall.Stat_t).Ino), fi.Size(), fi.ModTime().UnixNano()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnsure(t *testing.T) {
	fx := newEnsureFixture(t, 1<<20)
	ctx := context.Background()

	res, err := fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	want := EnsureResult{BinaryChanged: true, ConfigChanged: true, UnitChanged: true, Restarted: true}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	if !fx.svc.Active["k3s.service"] || !fx.svc.Enabled["k3s.service"] {
		t.Errorf("k3s.service not enabled and active: %+v", fx.svc)
	}
	cfg, err := os.ReadFile(fx.root.Path(ConfigPath))
	if err != nil || !strings.Contains(string(cfg), "server: https://10.0.0.11:6443") {
		t.Errorf("config.yaml = %q, %v", cfg, err)
	}

	// Nothing changed: no file written, no reload, no restart. The start
	// job of a k3s that systemd restarted lasts until etcd has quorum:
	// STATUS says what it waits for.
	before := snapshot(t, fx.root.Prefix())
	var said []string
	fx.mgr.Status = func(s string) { said = append(said, s) }
	res, err = fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], "waiting for k3s.service to be active") {
		t.Errorf("STATUS while starting k3s = %q, want one wait", said)
	}
	if diff := cmp.Diff(EnsureResult{}, res); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, fx.root.Prefix())); diff != "" {
		t.Errorf("second run wrote files (-before +after):\n%s", diff)
	}
	if fx.svc.Restarts["k3s.service"] != 1 || fx.svc.Reloads != 1 {
		t.Errorf("restarts=%d reloads=%d, want 1 and 1", fx.svc.Restarts["k3s.service"], fx.svc.Reloads)
	}

	// A cluster-file change rewrites config.yaml and restarts k3s.
	fx.cluster.K3s.ClusterDomain = "home.arpa"
	res, err = fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatalf("third Ensure: %v", err)
	}
	if diff := cmp.Diff(EnsureResult{ConfigChanged: true, Restarted: true}, res); diff != "" {
		t.Errorf("config change (-want +got):\n%s", diff)
	}
}

func TestEnsureFailures(t *testing.T) {
	t.Run("start fails", func(t *testing.T) {
		fx := newEnsureFixture(t, 4096)
		fx.svc.StartErr = errors.New("exit status 1")
		if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err == nil || !strings.Contains(err.Error(), "k3s.service") {
			t.Errorf("error = %v, want one naming k3s.service", err)
		}
	})
	t.Run("missing token starts nothing", func(t *testing.T) {
		fx := newEnsureFixture(t, 4096)
		if err := os.Remove(fx.root.Path(fx.cluster.K3s.TokenFile)); err != nil {
			t.Fatal(err)
		}
		_, err := fx.mgr.Ensure(context.Background(), fx.join())
		if err == nil || !strings.Contains(err.Error(), "token generate") {
			t.Errorf("error = %v, want a hint to generate the token", err)
		}
		if len(fx.svc.Units) != 0 {
			t.Errorf("units installed without a token: %v", fx.svc.Units)
		}
	})
}

// join is the fixture node's join in config order (pi4-2 through pi4-1).
func (fx *ensureFixture) join() Join { return orderJoin(fx.cluster, fx.mgr.node) }
