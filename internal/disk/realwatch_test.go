package disk

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

// reconcile is the daemon's loop in miniature: every Watch notification
// runs Ensure, and the first success is reported with its time. stop ends
// the loop and waits for it.
func reconcile(t testing.TB, m *Manager, d config.Disk, cfg WatchConfig) (done <-chan time.Time, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	mountedAt := make(chan time.Time, 1)
	ready := make(chan struct{})
	exited := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(exited)
		mounted := false
		// WatchWith notifies once right after subscribing: from then on no
		// device arrival can be missed.
		_ = m.WatchWith(ctx, cfg, func() {
			once.Do(func() { close(ready) })
			if mounted {
				return
			}
			_, err := m.Ensure(ctx, d)
			switch {
			case err == nil:
				mounted = true
				mountedAt <- time.Now()
			case !IsNotFound(err) && !errors.Is(err, context.Canceled):
				t.Errorf("Ensure: %v", err)
			}
		})
	}()
	<-ready
	return mountedAt, func() { cancel(); <-exited }
}

// ext4Image is an image file with an ext4 filesystem, not attached yet.
func ext4Image(t testing.TB, uuid string) string {
	img := newImage(t, "32M")
	sh(t, "mkfs.ext4", "-q", "-F", "-L", "late", "-U", uuid, img)
	return img
}

func TestRealLateDeviceIsMounted(t *testing.T) {
	needRealDisks(t)
	uuid := newUUID(t)
	img := ext4Image(t, uuid)
	mp := filepath.Join(t.TempDir(), "hd1")
	d := testDisk(mp, config.DiskSelector{UUID: uuid}, config.FormatNever)
	m, _, _ := realManager(t)
	// Rescan far beyond the test's deadline: only a uevent can mount it in time.
	done, stop := reconcile(t, m, d, WatchConfig{Rescan: time.Hour})
	defer stop()
	dev := attach(t, img)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("late device not mounted within 20s")
	}
	if got, want := mountedAt(t, mp), majMin(t, dev); got != want {
		t.Errorf("mountinfo shows %q on %s, want %s", got, mp, want)
	}
}

func TestRealWaitFor(t *testing.T) {
	needRealDisks(t)
	uuid := newUUID(t)
	img := ext4Image(t, uuid)
	m, run, _ := realManager(t)
	d := testDisk("/mnt/unused", config.DiskSelector{UUID: uuid}, config.FormatNever)
	t.Run("appears", func(t *testing.T) {
		got := make(chan Device, 1)
		errc := make(chan error, 1)
		go func() {
			dev, err := m.WaitFor(context.Background(), d, WatchConfig{Rescan: time.Hour})
			got <- dev
			errc <- err
		}()
		// WaitFor's first scan comes after it subscribed to uevents.
		waitFor(t, 5*time.Second, func() bool { return len(run.named("blkid")) > 0 })
		dev := attach(t, img)
		if err := <-errc; err != nil {
			t.Fatalf("WaitFor: %v", err)
		}
		if g := <-got; g.Path != dev || g.UUID != uuid {
			t.Errorf("WaitFor = %+v, want %s with UUID %s", g, dev, uuid)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		d := d
		d.Selector.UUID = newUUID(t)
		d.DeviceTimeout = config.Duration{Duration: 300 * time.Millisecond}
		start := time.Now()
		if _, err := m.WaitFor(context.Background(), d, WatchConfig{}); !IsNotFound(err) {
			t.Fatalf("WaitFor = %v, want ErrNotFound at the deadline", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("WaitFor took %s for a 300ms deadline", el)
		}
	})
}
