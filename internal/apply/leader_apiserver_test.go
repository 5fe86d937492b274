package apply

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testLeader(t *testing.T, lease, identity string) *Leader {
	t.Helper()
	srv := kube.Get(t)
	return NewLeader(srv.Client(), identity, LeaderConfig{
		Name: lease, LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond,
	}, zaptest.NewLogger(t))
}

// TestLeaderOtherNodeReportsHolder: while pi4-1 applies, pi4-2 gives up
// after its wait and names pi4-1; once pi4-1 is done, pi4-2 gets the lease.
func TestLeaderOtherNodeReportsHolder(t *testing.T) {
	lease := "lease-" + uniqueName(t, kube.Get(t))
	a, b := testLeader(t, lease, "pi4-1"), testLeader(t, lease, "pi4-2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	leading, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.Run(ctx, func(context.Context) error { close(leading); <-release; return nil })
	}()
	<-leading
	// The Lease object itself names pi4-1 (what another node reads).
	got, err := kube.Get(t).Client().CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
	if err != nil || got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "pi4-1" {
		t.Errorf("lease %s: %+v, %v; want holder pi4-1", lease, got, err)
	}
	err = b.TryRun(ctx, time.Second, func(context.Context) error {
		t.Error("pi4-2 ran while pi4-1 held the lease")
		return nil
	})
	var held *HeldError
	if !IsHeld(err) || !asHeld(err, &held) || held.Holder != "pi4-1" {
		t.Errorf("TryRun error = %v, want HeldError naming pi4-1", err)
	}

	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("pi4-1: %v", err)
	}
	ran := false
	if err := b.TryRun(ctx, 10*time.Second, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("pi4-2 after release: ran=%v err=%v", ran, err)
	}
}

// TestLeaderOneAtATime starts two appliers at once: both get their turn,
// never together.
func TestLeaderOneAtATime(t *testing.T) {
	lease := "lease-" + uniqueName(t, kube.Get(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu                        sync.Mutex
		running, maxRunning, runs int
	)
	var wg sync.WaitGroup
	for _, id := range []string{"pi4-1", "pi5"} {
		l := testLeader(t, lease, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Run(ctx, func(ctx context.Context) error {
				mu.Lock()
				running++
				runs++
				maxRunning = max(maxRunning, running)
				mu.Unlock()
				defer func() { mu.Lock(); running--; mu.Unlock() }()
				// Hold the lease across several of the other's retries.
				select {
				case <-time.After(500 * time.Millisecond):
				case <-ctx.Done():
				}
				return nil
			})
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	if runs != 2 || maxRunning != 1 {
		t.Errorf("runs=%d max concurrent=%d, want 2 and 1", runs, maxRunning)
	}
}

func asHeld(err error, target **HeldError) bool { return errors.As(err, target) }
