package serverwork

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

var server apiserver.Shared

func TestMain(m *testing.M) { os.Exit(server.Main(m)) }

// skewedClock is the real clock (monotonic reading kept) off by an offset
// the test moves on: a Pi without an RTC, whose time the test advances
// instead of waiting.
type skewedClock struct {
	host.RealClock
	mu sync.Mutex
	by time.Duration
}

func (c *skewedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.by)
}

func (c *skewedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by += d
}

// freeRestartLease deletes the restart Lease, which the tests share.
func freeRestartLease(t *testing.T, p *Work) {
	t.Helper()
	client, err := p.clientset()
	if err != nil {
		t.Fatal(err)
	}
	err = client.CoordinationV1().Leases(RestartLeaseNamespace).Delete(context.Background(), RestartLeaseName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// claimer returns claim(p): p's claimLease, failing the test on an error.
func claimer(ctx context.Context, t *testing.T) func(p *Work) string {
	return func(p *Work) string {
		t.Helper()
		client, err := p.clientset()
		if err != nil {
			t.Fatal(err)
		}
		holder, err := p.claimLease(ctx, client, "")
		if err != nil {
			t.Fatalf("%s claiming: %v", p.cfg.Node.Name, err)
		}
		return holder
	}
}

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
	freeRestartLease(t, pi41)
	claim := claimer(ctx, t)
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
	// pi4-2 died holding it: pi5 takes it once it saw it unrenewed for a
	// lease duration on its own clock.
	clock := &skewedClock{}
	pi5 := workFor(t, srv.KubeconfigPath(), "pi5", clock)
	if h := claim(pi5); h != "pi4-2" {
		t.Errorf("pi5 took the lease on its first look: holder %q, want pi4-2", h)
	}
	clock.advance(restartLeaseDuration + time.Second)
	if h := claim(pi5); h != "" {
		t.Errorf("pi5 could not take over the expired lease: holder %q", h)
	}
}

// A Pi without an RTC may be minutes off. Expiry is judged by how long the
// contender itself saw the Lease unrenewed, never by comparing its clock
// with the holder's RenewTime (issue #22 item 4): a contender 10 minutes
// ahead does not take a Lease that is being renewed, and one 30 minutes
// behind takes a dead holder's Lease after one lease duration, not 40 min.
func TestRestartLeaseClockSkew(t *testing.T) {
	srv := server.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	claim := claimer(ctx, t)
	for _, tc := range []struct {
		name string
		skew time.Duration // the contender's clock minus the holder's
	}{
		{"contender 10 min ahead", 10 * time.Minute},
		{"contender 10 min behind", -10 * time.Minute},
		{"contender 30 min behind", -30 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holderClock := &skewedClock{}
			holder := workFor(t, srv.KubeconfigPath(), "pi4-1", holderClock)
			contenderClock := &skewedClock{by: tc.skew}
			contender := workFor(t, srv.KubeconfigPath(), "pi4-2", contenderClock)
			freeRestartLease(t, holder)
			if h := claim(holder); h != "" {
				t.Fatalf("pi4-1 found the new lease held by %s", h)
			}
			// The holder renews every 4 minutes while 16 minutes pass.
			for i := range 4 {
				if h := claim(contender); h != "pi4-1" {
					t.Fatalf("after %d min the contender took a lease being renewed: holder %q", 4*i, h)
				}
				holderClock.advance(4 * time.Minute)
				contenderClock.advance(4 * time.Minute)
				if err := holder.renewLease(ctx, holder.client); err != nil {
					t.Fatal(err)
				}
			}
			// Then it dies: one lease duration later, not sooner, it is free.
			if h := claim(contender); h != "pi4-1" {
				t.Fatalf("the contender took the lease just renewed: holder %q", h)
			}
			contenderClock.advance(restartLeaseDuration - time.Minute)
			if h := claim(contender); h != "pi4-1" {
				t.Fatalf("the contender took the lease before a lease duration passed: holder %q", h)
			}
			contenderClock.advance(time.Minute + time.Second)
			if h := claim(contender); h != "" {
				t.Fatalf("the contender did not take the dead holder's lease after a lease duration: holder %q", h)
			}
		})
	}
}
