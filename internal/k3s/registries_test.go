package k3s

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/test/golden"
)

// TestRenderRegistriesGolden: k3s's key names (endpoint, rewrite, tls.ca_file,
// ...), sorted, the same bytes on every render.
func TestRenderRegistriesGolden(t *testing.T) {
	c := loadCluster(t, "testdata/registries-cluster.yaml")
	got, err := RenderRegistries(c)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "registries/registries.yaml", got)
	again, _ := RenderRegistries(c)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("rendering is not deterministic (-first +second):\n%s", diff)
	}
}

func TestRenderRegistriesNone(t *testing.T) {
	got, err := RenderRegistries(defaultCluster(t))
	if err != nil || got != nil {
		t.Errorf("RenderRegistries(homelab) = %q, %v; want nil: the homelab pulls from the internet", got, err)
	}
}

// TestWriteRegistries: mode 0600, no write when unchanged, a mode fixed,
// nodeagent's file removed when the section goes and a hand-written one kept.
func TestWriteRegistries(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	data, err := RenderRegistries(loadCluster(t, "testdata/registries-cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := root.Path(RegistriesPath)
	mode := func() os.FileMode {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	if changed, err := WriteRegistries(root, data); err != nil || !changed {
		t.Fatalf("first write = %v, %v; want changed", changed, err)
	}
	if m := mode(); m != 0o600 {
		t.Errorf("mode %04o, want 0600", m)
	}
	st, _ := os.Stat(path)
	if changed, err := WriteRegistries(root, data); err != nil || changed {
		t.Errorf("unchanged write = %v, %v; want no change", changed, err)
	}
	if st2, _ := os.Stat(path); !os.SameFile(st, st2) || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an unchanged file was rewritten")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := WriteRegistries(root, data); err != nil || !changed || mode() != 0o600 {
		t.Errorf("write over mode 0644 = %v, %v, mode %04o; want changed to 0600", changed, err, mode())
	}
	if changed, err := WriteRegistries(root, nil); err != nil || !changed {
		t.Errorf("removing = %v, %v; want changed", changed, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("nodeagent's registries.yaml still there: %v", err)
	}
	mustWrite(t, path, []byte("mirrors: {}\n"), 0o600)
	if changed, err := WriteRegistries(root, nil); err != nil || changed {
		t.Errorf("with a hand-written file = %v, %v; want it left alone", changed, err)
	}
}

// TestEnsureRegistries: a registries change alone restarts k3s through
// Ensure's restart path, as a config.yaml change does, and an unchanged one
// does not.
func TestEnsureRegistries(t *testing.T) {
	fx := newEnsureFixture(t, 4096)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	restarts := fx.svc.Restarts["k3s.service"]
	fx.cluster.K3s.Registries = loadCluster(t, "testdata/registries-cluster.yaml").K3s.Registries
	res, err := fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(EnsureResult{RegistriesChanged: true, Restarted: true}, res); diff != "" {
		t.Errorf("registries change (-want +got):\n%s", diff)
	}
	if fx.svc.Restarts["k3s.service"] != restarts+1 {
		t.Errorf("restarts = %d, want %d", fx.svc.Restarts["k3s.service"], restarts+1)
	}
	data, err := os.ReadFile(fx.root.Path(RegistriesPath))
	if err != nil || !strings.Contains(string(data), "https://mirror.lan:5000") {
		t.Errorf("registries.yaml = %q, %v", data, err)
	}
	if res, err = fx.mgr.Ensure(ctx, fx.join()); err != nil || res.Changed() || res.Restarted {
		t.Errorf("unchanged Ensure = %+v, %v; want nothing changed", res, err)
	}
}

// TestPlanLiveRegistries: the live plan writes registries.yaml when it
// differs, says it is up to date once written, and removes nodeagent's
// file when the section goes; each change comes with the restart.
func TestPlanLiveRegistries(t *testing.T) {
	fx := newEnsureFixture(t, 1024)
	ctx := context.Background()
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, fx.root.Path("/etc/systemd/system/k3s.service"), fx.svc.Units["k3s.service"], 0o644)
	descriptions := func() string {
		t.Helper()
		st, err := fx.mgr.PlanLive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range st.Actions {
			out = append(out, a.Description)
		}
		return strings.Join(append(out, st.Notes...), "\n")
	}
	if got := descriptions(); strings.Contains(got, RegistriesPath) {
		t.Errorf("plan without registries mentions %s:\n%s", RegistriesPath, got)
	}
	fx.cluster.K3s.Registries = loadCluster(t, "testdata/registries-cluster.yaml").K3s.Registries
	if got := descriptions(); !strings.Contains(got, "write k3s registry mirrors") || !strings.Contains(got, "restart") {
		t.Errorf("plan after adding registries:\n%s", got)
	}
	if _, err := fx.mgr.Ensure(ctx, fx.join()); err != nil {
		t.Fatal(err)
	}
	if got := descriptions(); !strings.Contains(got, RegistriesPath+" up to date") {
		t.Errorf("plan with registries in place:\n%s", got)
	}
	fx.cluster.K3s.Registries = config.Registries{}
	if got := descriptions(); !strings.Contains(got, "remove "+RegistriesPath) {
		t.Errorf("plan after removing the section:\n%s", got)
	}
}
