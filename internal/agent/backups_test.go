package agent

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The snapshot watch starts before k3s has made its snapshot directory,
// follows it into existence, and queues a copy for a finished snapshot
// (etcd's rename of "<name>.part"), not for the partial file.
func TestWatchEtcdSnapshotsFollowsTheDirectoryIntoExistence(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "server", "db", "snapshots")
	q := newQueue()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var watchErr error
	go func() { defer wg.Done(); watchErr = watchEtcdSnapshots(ctx, q, dir) }()
	defer func() { cancel(); wg.Wait(); _ = watchErr }()

	waitWork := func(what string) work {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-q.signal:
				if w := q.take(); w != 0 {
					return w
				}
			case <-time.After(50 * time.Millisecond):
			}
		}
		t.Fatalf("no work queued after %s", what)
		return 0
	}
	// Nothing exists under base yet: the levels appear one by one, and
	// once the snapshot directory is watched a copy pass is queued for
	// what it may already hold.
	for _, d := range []string{filepath.Join(base, "server"), filepath.Join(base, "server", "db"), dir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if w := waitWork("the snapshot directory appeared"); w != workBackups {
		t.Fatalf("queued %b, want workBackups", w)
	}
	part := filepath.Join(dir, "on-demand-pi5-1764633600.part")
	if err := os.WriteFile(part, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.signal:
		if w := q.take(); w != 0 {
			t.Fatalf("a partial snapshot queued %b", w)
		}
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.Rename(part, filepath.Join(dir, "on-demand-pi5-1764633600")); err != nil {
		t.Fatal(err)
	}
	if w := waitWork("a snapshot was renamed into place"); w != workBackups {
		t.Fatalf("queued %b, want workBackups", w)
	}
}
