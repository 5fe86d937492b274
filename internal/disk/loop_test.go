package disk

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// sh runs a setup command through a real ExecRunner and fails the test on error.
func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := host.NewExecRunner(zaptest.NewLogger(t)).Run(context.Background(), name, args...)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// newImage makes a sparse backing file.
func newImage(t testing.TB, size string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	sh(t, "truncate", "-s", size, img)
	return img
}

// attach attaches img to a free loop device (scanning partitions) and
// detaches it, after unmounting it in this namespace, when the test ends.
func attach(t testing.TB, img string) string {
	t.Helper()
	dev := sh(t, "losetup", "-f", "-P", "--show", img)
	t.Cleanup(func() { detach(t, dev) })
	return dev
}

func detach(t testing.TB, dev string) {
	t.Helper()
	mounts, _ := ReadMounts(host.NewRoot("/"))
	for i := len(mounts) - 1; i >= 0; i-- {
		if strings.HasPrefix(mounts[i].Source, dev) {
			sh(t, "umount", "-l", mounts[i].MountPoint)
		}
	}
	run := host.NewExecRunner(zaptest.NewLogger(t))
	_, _ = run.Run(context.Background(), "losetup", "-d", dev) // may already be gone
}

// ext4Loop is a loop device with an ext4 filesystem of the given label and UUID.
func ext4Loop(t testing.TB, label, uuid string) string {
	t.Helper()
	dev := attach(t, newImage(t, "32M"))
	sh(t, "mkfs.ext4", "-q", "-L", label, "-U", uuid, dev)
	return dev
}

// gptLoop is a loop device with a GPT holding one partition of the given
// PARTUUID, blank inside. partx adds the partition because loop partition
// scanning needs kernel partition-table support some kernels lack.
func gptLoop(t testing.TB, partuuid string) (disk, part string) {
	t.Helper()
	img := newImage(t, "40M")
	script := fmt.Sprintf("label: gpt\nsize=30MiB, uuid=%s\n", partuuid)
	cmdRun(t, script, "sfdisk", "-q", img)
	disk = attach(t, img)
	part = disk + "p1"
	if _, err := os.Stat(part); err != nil {
		sh(t, "partx", "-a", disk)
	}
	waitFor(t, 5*time.Second, func() bool { _, err := os.Stat(part); return err == nil })
	return disk, part
}

func newUUID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for the condition
	}
}

// memUnits is a stateful stand-in for internal/systemd: it keeps the unit
// files and enabled set and counts real changes.
type memUnits struct {
	mu      sync.Mutex
	files   map[string][]byte
	enabled map[string]bool
	writes  int
}

func newMemUnits() *memUnits {
	return &memUnits{files: map[string][]byte{}, enabled: map[string]bool{}}
}

func (u *memUnits) InstallUnit(_ context.Context, name string, content []byte) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if string(u.files[name]) == string(content) {
		return false, nil
	}
	u.files[name] = append([]byte(nil), content...)
	u.writes++
	return true, nil
}

func (u *memUnits) Enable(_ context.Context, name string) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.enabled[name] {
		return false, nil
	}
	u.enabled[name] = true
	u.writes++
	return true, nil
}

// recRunner runs real commands and records them, so a test can assert that
// a converged run executed no mount or mkfs.
type recRunner struct {
	host.Runner
	mu    sync.Mutex
	calls []string
	// drop makes commands with this name succeed without running.
	drop string
}

func (r *recRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, host.QuoteArgv(name, args))
	r.mu.Unlock()
	if name == r.drop {
		return nil, nil
	}
	return r.Runner.Run(ctx, name, args...)
}

func (r *recRunner) named(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix+" ") {
			out = append(out, c)
		}
	}
	return out
}

// realManager is a Manager on the real host root ("/": sysfs shows the loop
// devices) whose mountinfo is this test process's private namespace.
func realManager(t testing.TB) (*Manager, *recRunner, *memUnits) {
	log := zaptest.NewLogger(t)
	run := &recRunner{Runner: host.NewExecRunner(log)}
	units := newMemUnits()
	return NewManager(host.NewRoot("/"), run, units, host.RealClock{}, log), run, units
}

func testDisk(mp string, sel config.DiskSelector, format string) config.Disk {
	return config.Disk{
		MountPoint: mp, Selector: sel, FSType: "ext4", Options: []string{"noatime"}, Format: format,
		DeviceTimeout: config.Duration{Duration: 20 * time.Second},
		Directories: []config.Directory{
			{Path: "Library", Owner: 1000, Group: 1000, Mode: "0750"},
			{Path: "backups", Owner: 0, Group: 0, Mode: "0700"},
		},
		Labels: map[string]string{"storage": "true"},
	}
}

// mountedAt returns the device number mounted on dir, or "".
func mountedAt(t testing.TB, dir string) string {
	t.Helper()
	mounts, err := ReadMounts(host.NewRoot("/"))
	must(t, err)
	m, _ := At(mounts, dir)
	return m.MajMin
}

func majMin(t testing.TB, dev string) string {
	t.Helper()
	return readAttr(filepath.Join("/sys/class/block", filepath.Base(dev)), "dev")
}

// cmdRun runs a setup command with stdin, which host.Runner does not offer.
func cmdRun(t testing.TB, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup: %s: %v: %s", host.QuoteArgv(name, args), err, out)
	}
}
