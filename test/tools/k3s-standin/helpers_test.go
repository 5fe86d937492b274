package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireIntegration skips unless the environment can run three stand-ins:
// Linux (127.0.0.2-4 are loopback without configuration) and kubectl.
func requireIntegration(t *testing.T) {
	t.Helper()
	must := os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1"
	reason := ""
	if runtime.GOOS != "linux" {
		reason = "needs Linux loopback aliases"
	} else if _, err := os.Stat(kubectl); err != nil {
		reason = "needs " + kubectl
	}
	switch {
	case reason != "" && must:
		t.Fatal(reason)
	case reason != "":
		t.Skip(reason)
	case testing.Short():
		t.Skip("starts three etcd members and kube-apiservers; not in -short")
	}
}

const kubectl = "/usr/bin/kubectl"

// standinBinary is $K3S_STANDIN (from build-k3s-standin.sh) or a fresh build.
func standinBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("K3S_STANDIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "k3s")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	return bin
}

// instance is one stand-in child process with its own root and loopback IP.
type instance struct {
	name, ip, root string
	cmd            *exec.Cmd
	exited         chan error
	notify         chan string
	started        time.Time
	ready          bool // READY=1 seen since the last start
}

func newInstance(t *testing.T, name, ip, config string) *instance {
	t.Helper()
	in := &instance{name: name, ip: ip, root: t.TempDir()}
	t.Cleanup(in.kill) // on the parent test: a restart in a subtest outlives it
	cfgPath := filepath.Join(in.root, "etc/rancher/k3s/config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// start runs `k3s server` with NOTIFY_SOCKET pointing at a datagram socket
// of the test, the way systemd's Type=notify receives READY=1.
func (in *instance) start(t *testing.T, bin string) {
	t.Helper()
	in.startArgs(t, bin, "server")
}

// startArgs is start with other arguments (`server --cluster-reset`).
func (in *instance) startArgs(t *testing.T, bin string, args ...string) {
	t.Helper()
	sock := filepath.Join(in.root, "notify.sock")
	_ = os.Remove(sock)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening for sd_notify: %v", err)
	}
	in.notify = make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			in.notify <- string(buf[:n])
		}
	}()
	logf, err := os.OpenFile(filepath.Join(in.root, "stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	in.ready = false
	in.cmd = exec.Command(bin, args...)
	in.cmd.Env = append(os.Environ(), "K3S_STANDIN_ROOT="+in.root, "K3S_STANDIN_LOCAL_ADDRESS="+in.ip, "NOTIFY_SOCKET="+sock)
	in.cmd.Stderr = logf
	in.started = time.Now()
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", in.name, err)
	}
	in.exited = make(chan error, 1)
	go func() {
		in.exited <- in.cmd.Wait()
		_ = conn.Close()
		_ = logf.Close()
	}()
}

func (in *instance) kill() {
	if in.cmd != nil && in.cmd.ProcessState == nil {
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// waitReady waits for READY=1 and returns the time since start.
func (in *instance) waitReady(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case msg := <-in.notify:
			if strings.Contains(msg, "READY=1") {
				in.ready = true
				return time.Since(in.started)
			}
		case err := <-in.exited:
			t.Fatalf("%s exited before READY=1: %v\n%s", in.name, err, in.logTail())
		case <-deadline:
			t.Fatalf("%s not READY after %s\n%s", in.name, timeout, in.logTail())
		}
	}
}

// readyYet reports, without waiting, whether READY=1 has arrived.
func (in *instance) readyYet() bool {
	for {
		select {
		case msg := <-in.notify:
			if strings.Contains(msg, "READY=1") {
				in.ready = true
			}
		default:
			return in.ready
		}
	}
}

// waitExit waits for the process to end by itself and returns its error.
func (in *instance) waitExit(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-in.exited:
		return err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s\n%s", in.name, timeout, in.logTail())
		return nil
	}
}

// wipe replaces the instance's root with a fresh one holding only its
// config, as a re-flashed SD card.
func (in *instance) wipe(t *testing.T, config string) {
	t.Helper()
	in.root = t.TempDir()
	cfgPath := filepath.Join(in.root, "etc/rancher/k3s/config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

// stop sends sig and waits for the exit status.
func (in *instance) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) error {
	t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", in.name, err)
	}
	select {
	case err := <-in.exited:
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not exit %s after %v\n%s", in.name, timeout, sig, in.logTail())
		return nil
	}
}

func (in *instance) logTail() string {
	data, _ := os.ReadFile(filepath.Join(in.root, "stderr.log"))
	lines := strings.Split(string(data), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// rssKiB reads VmRSS of the running process.
func (in *instance) rssKiB(t *testing.T) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kib int
		if _, err := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &kib); err == nil {
			return kib
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func (in *instance) path(p string) string { return filepath.Join(in.root, p) }

// run runs a short-lived command of the binary (`k3s etcd-snapshot save`)
// against the instance's root and address and returns its stdout, stderr
// and exit code.
func (in *instance) run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "K3S_STANDIN_ROOT="+in.root, "K3S_STANDIN_LOCAL_ADDRESS="+in.ip)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running %v: %v", args, err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func (in *instance) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", in.path("etc/rancher/k3s/k3s.yaml")}, args...)
	out, err := exec.CommandContext(ctx, kubectl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// poll calls f every 200ms until it returns nil or timeout passes.
func poll(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not a wait for a condition
	}
}

// kubectlErr is kubectl for polling: it returns the failure instead.
func (in *instance) kubectlErr(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", in.path("etc/rancher/k3s/k3s.yaml")}, args...)
	if out, err := exec.CommandContext(ctx, kubectl, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
