package nspawn

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

func TestBoot(t *testing.T) {
	c := Boot(t, Options{Name: "na-boot", PrivateNetwork: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("systemd is pid 1 with our hostname", func(t *testing.T) {
		out, err := c.Exec(ctx, "sh", "-c", "cat /proc/1/comm; hostname")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Fields(out), []string{"systemd", "na-boot"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("pid 1 and hostname = %q, want %q", got, want)
		}
	})

	t.Run("cgroup v2 only", func(t *testing.T) {
		out, err := c.Exec(ctx, "stat", "-f", "-c", "%T", "/sys/fs/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out); got != "cgroup2fs" {
			t.Errorf("/sys/fs/cgroup is %q, want cgroup2fs (unified hierarchy)", got)
		}
	})

	t.Run("private network has only loopback", func(t *testing.T) {
		out, err := c.Exec(ctx, "ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], " lo:") {
			t.Errorf("links = %q, want only lo", out)
		}
	})

	t.Run("copy in and path", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "hello")
		if err := os.WriteFile(src, []byte("#!/bin/sh\necho hello from $(hostname)\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyIn(src, "/opt/test/hello"); err != nil {
			t.Fatal(err)
		}
		out, err := c.Exec(ctx, "/opt/test/hello")
		if err != nil || out != "hello from na-boot\n" {
			t.Errorf("running copied script = %q, %v", out, err)
		}
		if _, err := os.Stat(c.Path("/opt/test/hello")); err != nil {
			t.Errorf("Path: %v", err)
		}
		if st, err := os.Stat(c.BusSocket()); err != nil || st.Mode()&os.ModeSocket == 0 {
			t.Errorf("BusSocket %s: %v, mode %v", c.BusSocket(), err, st.Mode())
		}
	})

	t.Run("exec reports failures", func(t *testing.T) {
		if _, err := c.Exec(ctx, "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "oops") {
			t.Errorf("Exec of a failing command = %v, want an error with its stderr", err)
		}
	})

	t.Run("journal", func(t *testing.T) {
		j, err := c.Journal(ctx)
		if err != nil || !strings.Contains(j, "systemd") {
			t.Errorf("Journal = %d bytes, %v; want systemd's boot messages", len(j), err)
		}
	})

	t.Run("stop ends nspawn and the container", func(t *testing.T) {
		leader := c.Leader()
		c.Stop()
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(leader))); err == nil {
			t.Errorf("leader %d still exists after Stop", leader)
		}
	})
	t.Logf("figure: boot %s", c.BootTime().Round(time.Millisecond))
}

// TestBenchRootSetup compares the two ways to give each container its own
// root: an overlay mount (what Boot does) against a full copy with
// `cp -a --reflink=auto` (a real copy on ext4, which has no reflinks).
func TestBenchRootSetup(t *testing.T) {
	if os.Getenv("NODEAGENT_BENCH") != "1" {
		t.Skip("copies the whole rootfs (~20 s); set NODEAGENT_BENCH=1 to run")
	}
	rootfs := Rootfs(t)
	start := time.Now()
	overlayRoot(t, rootfs, "na-bench")
	overlay := time.Since(start)

	dst := filepath.Join(t.TempDir(), "copy")
	start = time.Now()
	if out, err := exec.Command("cp", "-a", "--reflink=auto", rootfs, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	cp := time.Since(start)
	if cp < overlay {
		t.Errorf("copy (%s) was faster than overlay (%s); reconsider overlayRoot", cp, overlay)
	}
	t.Logf("figure: per-container root: overlay %s, cp -a %s (copy/overlay = %.0fx)",
		overlay.Round(time.Microsecond), cp.Round(time.Millisecond), float64(cp)/float64(overlay))
	benchfig.Report(t, benchfig.Figure{
		Name: "per-container root (overlay)", Value: overlay.Round(time.Microsecond).String(),
		Baseline: "cp -a " + cp.Round(time.Millisecond).String(),
	})
}
