package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShortRootDir: a root dir whose pod-resources socket would pass the
// unix socket limit is reached through a short link to it; a short one is
// kept.
func TestShortRootDir(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 80), "var/lib/rancher/k3s/agent/kubelet")
	got, err := shortRootDir(long)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(got) })
	if len(filepath.Join(got, "pod-resources", "0123456789")) > maxSocketPath {
		t.Fatalf("shortRootDir(%s) = %s, still too long", long, got)
	}
	if target, err := os.Readlink(got); err != nil || target != long {
		t.Fatalf("%s links to %q (%v), want %s", got, target, err, long)
	}
	if again, err := shortRootDir(long); err != nil || again != got {
		t.Errorf("a second call = %s, %v; want the same link %s", again, err, got)
	}
	if kept, err := shortRootDir("/var/lib/kubelet"); err != nil || kept != "/var/lib/kubelet" {
		t.Errorf("shortRootDir(/var/lib/kubelet) = %s, %v", kept, err)
	}
}
