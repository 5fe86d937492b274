package deb

import (
	"bufio"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/test/harness/procstat"
)

// TestArm64Package builds the package the Pis install, lints it like the
// amd64 one, and runs its binaries under qemu-user emulation: version,
// validate, plan and doctor, then the idle daemon next to this machine's,
// for their resident sizes. Through binfmt_misc when this machine has it
// registered for aarch64, else by calling qemu-aarch64-static directly.
func TestArm64Package(t *testing.T) {
	requireHost(t)
	qemu := requireQemu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	start := time.Now()
	deb, err := buildDebFor(ctx, dir, newVersion, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s", filepath.Base(deb), time.Since(start).Round(100*time.Millisecond))
	lint := make(chan []string, 1)
	go func() {
		errs, out, err := lintianProblems(ctx, deb)
		if err != nil {
			errs = append(errs, err.Error())
		}
		t.Logf("lintian (arm64):\n%s", out)
		lint <- errs
	}()

	tree := filepath.Join(dir, "tree")
	if _, err := run(exec.CommandContext(ctx, "dpkg-deb", "-x", deb, tree)); err != nil {
		t.Fatal(err)
	}
	cli, daemon := filepath.Join(tree, "usr/bin/nodeagent"), filepath.Join(tree, "usr/lib/nodeagent/nodeagentd")
	for _, b := range []string{cli, daemon} {
		if m := elfMachine(t, b); m != elf.EM_AARCH64 {
			t.Errorf("%s is for %s, want EM_AARCH64", b, m)
		}
	}
	example := filepath.Join(tree, identity.ExamplePath)
	root := t.TempDir() // doctor's host: a cluster file and nothing else
	if err := os.MkdirAll(filepath.Join(root, "etc/nodeagent"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/nodeagent/cluster.yaml"), []byte(renderCluster(t, "pi-arm", false)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
		want    []string
	}{
		{"version", []string{"version"}, false, []string{"nodeagent " + newVersion + " "}},
		{"validate", []string{"validate", "--config", example}, false, []string{example}},
		{"plan", []string{"plan", "--node", "pi5"}, false, []string{"pi5", "firewall", "k3s"}},
		// A temp tree is no Pi: doctor fails, but it must run and report.
		{"doctor", []string{"doctor", "--root", root, "--node", "pi-arm"}, true, []string{"ok   cluster-file", "ok   identity", "FAIL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, qemu, append([]string{cli}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Errorf("nodeagent %s under qemu: %v, want failure %v\n%s", strings.Join(tc.args, " "), err, tc.wantErr, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("nodeagent %s under qemu says no %q:\n%s", strings.Join(tc.args, " "), w, out)
				}
			}
		})
	}
	t.Run("binfmt", func(t *testing.T) { runThroughBinfmt(t, ctx, cli) })
	t.Run("idle daemon", func(t *testing.T) { compareIdle(t, ctx, dir, qemu, daemon, cli) })
	if errs := <-lint; len(errs) > 0 {
		t.Errorf("lintian reports errors or warnings on the arm64 package:\n%s", strings.Join(errs, "\n"))
	}
}

// requireQemu finds qemu-aarch64-static (Debian's qemu-user-static).
func requireQemu(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("qemu-aarch64-static")
	if err == nil {
		return p
	}
	msg := "the arm64 test needs qemu-aarch64-static (apt-get install qemu-user-static)"
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func elfMachine(t *testing.T, path string) elf.Machine {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Machine
}

// runThroughBinfmt runs the arm64 binary as it is, when the kernel hands
// aarch64 programs to qemu (binfmt_misc); it reports what this machine
// allows otherwise.
func runThroughBinfmt(t *testing.T, ctx context.Context, cli string) {
	data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if err != nil || !strings.HasPrefix(string(data), "enabled") {
		t.Skipf("binfmt_misc has no enabled qemu-aarch64 entry here (%v): arm64 programs run only through qemu-aarch64-static", err)
	}
	out, err := exec.CommandContext(ctx, cli, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "nodeagent "+newVersion+" ") {
		t.Errorf("the arm64 binary through binfmt_misc: %v\n%s", err, out)
	}
}

// compareIdle starts the arm64 daemon under qemu and this machine's own,
// both waiting for a cluster file under an empty root (the state of a
// freshly installed package), and logs their resident sizes.
func compareIdle(t *testing.T, ctx context.Context, dir, qemu, daemon, cli string) {
	bin, err := buildBinaries(ctx, dir, newVersion, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	window, err := procstat.Window(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	daemons := map[string][]string{
		"arm64 (qemu)": {qemu, daemon},
		runtime.GOARCH: {filepath.Join(bin, "nodeagentd")},
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, argv := range daemons {
		root := t.TempDir()
		cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "run", "--root", root, "--cli", cli)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"} // no NOTIFY_SOCKET: not under systemd
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		// Measured from the moment it waits, not from its start.
		waiting := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if strings.Contains(sc.Text(), identity.ErrNoClusterFile.Error()) {
					waiting <- sc.Text()
					break
				}
			}
			_, _ = io.Copy(io.Discard, stderr)
		}()
		wg.Go(func() {
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			select {
			case <-waiting:
			case <-time.After(time.Minute):
				t.Errorf("the %s daemon did not say within a minute that it waits for a cluster file", name)
				return
			}
			w, err := procstat.WatchFor("/proc/"+strconv.Itoa(cmd.Process.Pid), window)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("watching the %s daemon: %v", name, err)
				return
			}
			t.Logf("idle %s daemon, waiting for a cluster file, over %s: %s", name, w.Elapsed.Round(time.Second), w)
		})
	}
	wg.Wait()
}
