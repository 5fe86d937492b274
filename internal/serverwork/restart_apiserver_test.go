package serverwork

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

var server apiserver.Shared

func TestMain(m *testing.M) { os.Exit(server.Main(m)) }

// shiftedClock is the real clock moved by a fixed offset: a Pi whose time
// has passed a Lease's expiry.
type shiftedClock struct {
	host.RealClock
	by time.Duration
}

func (c shiftedClock) Now() time.Time { return time.Now().Add(c.by) }

// workFor is node's platform, its kubeconfig the shared apiserver's at
// the path k3s writes.
func workFor(t *testing.T, kubeconfig, node string, clock host.Clock) *Work {
	t.Helper()
	root := host.NewRoot(t.TempDir())
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.WriteFileAtomic(root.Path(kube.K3sKubeconfig), data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, n := defaultNode(t, node)
	p := New(Config{Log: zaptest.NewLogger(t), Cluster: c, Node: n, Root: root, Clock: clock})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// The restart Lease lets one server at a time through, is released by its
// holder only, and is taken over once it expired (a holder that died).
func TestRestartLeaseOneServerAtATime(t *testing.T) {
	srv := server.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pi41 := workFor(t, srv.KubeconfigPath(), "pi4-1", host.RealClock{})
	pi42 := workFor(t, srv.KubeconfigPath(), "pi4-2", host.RealClock{})
	claim := func(p *Work) string {
		t.Helper()
		client, err := p.clientset()
		if err != nil {
			t.Fatal(err)
		}
		holder, err := p.claimLease(ctx, client)
		if err != nil {
			t.Fatalf("%s claiming: %v", p.cfg.Node.Name, err)
		}
		return holder
	}
	release := func(p *Work) {
		t.Helper()
		if err := p.releaseLease(ctx, p.client); err != nil {
			t.Fatalf("%s releasing: %v", p.cfg.Node.Name, err)
		}
	}
	if h := claim(pi41); h != "" {
		t.Fatalf("pi4-1 found the new lease held by %s", h)
	}
	if h := claim(pi42); h != "pi4-1" {
		t.Errorf("pi4-2 claimed a held lease: holder %q, want pi4-1", h)
	}
	if h := claim(pi41); h != "" {
		t.Errorf("pi4-1 could not claim its own lease again: holder %q", h)
	}
	release(pi42) // not the holder: changes nothing
	if h := claim(pi42); h != "pi4-1" {
		t.Errorf("pi4-2's release freed pi4-1's lease: holder %q", h)
	}
	release(pi41)
	if h := claim(pi42); h != "" {
		t.Errorf("pi4-2 could not claim the released lease: holder %q", h)
	}
	later := workFor(t, srv.KubeconfigPath(), "pi5", shiftedClock{by: restartLeaseDuration + time.Minute})
	if h := claim(later); h != "" {
		t.Errorf("pi5 could not take over the expired lease: holder %q", h)
	}
}
