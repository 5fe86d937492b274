package k3s

import (
	"context"
	"os"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// TestPrefetchThenEnsureDownloadsOnce: what Prefetch staged during the join
// decision is what Ensure installs, without a second download; a node
// without its token fetches nothing.
func TestPrefetchThenEnsureDownloadsOnce(t *testing.T) {
	fx := newEnsureFixture(t, 1<<20)
	bin := payload(9, 1<<20)
	srv := newCountingRelease(t, bin)
	t.Cleanup(srv.Close)
	fx.cluster.K3s.ReleaseBase = srv.URL
	fx.mgr.installer = release.NewInstaller(fx.root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	ctx := context.Background()

	token := fx.root.Path(fx.cluster.K3s.TokenFile)
	saved, err := os.ReadFile(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	if err := fx.mgr.Prefetch(ctx); err == nil {
		t.Error("Prefetch without a token succeeded")
	}
	if bins, _ := srv.counts(); bins != 0 {
		t.Errorf("Prefetch without a token downloaded the binary %d times", bins)
	}
	if err := os.WriteFile(token, saved, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := fx.mgr.Prefetch(ctx); err != nil {
		t.Fatal(err)
	}
	if bins, _ := srv.counts(); bins != 1 {
		t.Fatalf("Prefetch downloaded the binary %d times, want 1", bins)
	}
	if _, err := os.Stat(fx.root.Path(release.BinaryPath)); !os.IsNotExist(err) {
		t.Fatalf("Prefetch installed the binary (stat: %v); it must only stage it", err)
	}
	res, err := fx.mgr.Ensure(ctx, fx.join())
	if err != nil {
		t.Fatal(err)
	}
	if bins, _ := srv.counts(); bins != 1 || !res.BinaryChanged {
		t.Errorf("after Prefetch and Ensure: %d downloads, binary changed %v; want 1 and true", bins, res.BinaryChanged)
	}
	got, err := os.ReadFile(fx.root.Path(release.BinaryPath))
	if err != nil || sha(got) != sha(bin) {
		t.Errorf("installed binary: %v, sha %s, want %s", err, sha(got), sha(bin))
	}
}
