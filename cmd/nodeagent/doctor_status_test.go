package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

func noSystemd(context.Context, *cli.Globals) (*systemd.Manager, error) {
	return nil, errors.New("no D-Bus in this test")
}

// runDoctor runs `nodeagent doctor` for pi4-1 of the built-in homelab on
// the host tree under root.
func runDoctor(t *testing.T, root string) (string, error) {
	t.Helper()
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newDoctorCommand(g, noSystemd))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--root", root, "--node", "pi4-1", "doctor"})
	err := cmd.Execute()
	return out.String(), err
}

func writeFiles(t *testing.T, root string, files map[string]string, mode os.FileMode) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// homelabWithLocalRelease is the built-in homelab with an air-gap release
// directory, so that doctor's release check reads files, never the network.
func homelabWithLocalRelease(t *testing.T) string {
	t.Helper()
	const github = "releaseBase: https://github.com/k3s-io/k3s/releases/download"
	y := string(config.DefaultYAML())
	if !strings.Contains(y, github) {
		t.Fatalf("the built-in homelab has no %q", github)
	}
	return strings.Replace(y, github, "releaseBase: /srv/k3s-release", 1)
}

// squash collapses runs of spaces: doctor pads its name column to the
// longest check name.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// The name column fits the longest name, so every message starts in one column.
func TestDoctorAlignsMessages(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t)}, 0o644)
	out, _ := runDoctor(t, root)
	col := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "fix:") {
			continue
		}
		name := strings.Fields(line)[1]
		start := strings.Index(line, name) + len(name)
		at := start + len(line[start:]) - len(strings.TrimLeft(line[start:], " "))
		if col == -1 {
			col = at
		}
		if at != col {
			t.Errorf("message of %s starts at column %d, others at %d:\n%s", name, at, col, out)
		}
	}
}

func TestDoctor(t *testing.T) {
	root := t.TempDir()
	out, err := runDoctor(t, root)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("doctor without a cluster file: err = %v, want exit 1\n%s", err, out)
	}
	if want := "FAIL cluster-file   no cluster file: copy"; !strings.Contains(squash(out), squash(want)) {
		t.Errorf("doctor without a cluster file lacks %q:\n%s", want, out)
	}

	// The homelab as the user's cluster file, on an otherwise empty host.
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t)}, 0o644)
	out, err = runDoctor(t, root)
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("doctor on an empty tree: err = %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		"ok   cluster-file   " + filepath.Join(root, config.DefaultPath),
		"ok   identity       pi4-1 (server, 10.0.0.11)",
		"FAIL memory-cgroup  the memory cgroup controller is not enabled",
		"fix: add \"cgroup_memory=1 cgroup_enable=memory\"",
		"WARN time-sync      cannot ask timedated",
		"FAIL token ",
		"FAIL k3s-release    fetching k3s checksums: opening k3s release file:",
		"fix: check this node's access to k3s.releaseBase (/srv/k3s-release)",
	} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("doctor on an empty tree lacks %q:\n%s", want, out)
		}
	}

	// The same node made ready: memory cgroup, modules, no swap, a token.
	writeFiles(t, root, map[string]string{
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
		"/proc/swaps":                       "Filename\tType\tSize\tUsed\tPriority\n",
		"/sys/module/br_netfilter/refcnt":   "0\n",
		"/sys/module/overlay/refcnt":        "0\n",
		"/sys/module/vxlan/refcnt":          "0\n",
	}, 0o644)
	writeFiles(t, root, map[string]string{"/etc/nodeagent/token": "K10abc::server:0123456789abcdef0123456789abcdef\n"}, 0o600)
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"/srv/k3s-release/" + f.Cluster.K3s.Version + "/sha256sum-arm64.txt": strings.Repeat("a", 64) + "  k3s-arm64\n"}, 0o644)
	out, err = runDoctor(t, root)
	if err != nil {
		t.Fatalf("doctor on a ready tree: %v\n%s", err, out)
	}
	for _, want := range []string{"ok   memory-cgroup", "ok   module-vxlan", "ok   swap", "ok   token ",
		"ok   agent-token    not needed: the cluster file lists no agent node",
		"ok   k3s-release    k3s " + f.Cluster.K3s.Version + ": /srv/k3s-release/" + f.Cluster.K3s.Version + "/sha256sum-arm64.txt answers and lists the binary"} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("doctor on a ready tree lacks %q:\n%s", want, out)
		}
	}
}

func TestStatusShowsTheLastManifestsApply(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		rec  child.ApplyRecord
		want []string
	}{
		{child.ApplyRecord{At: at, By: "pi4-1", Objects: 3, Counts: map[string]int{"unchanged": 2, "failed": 1},
			Failures: []string{"Deployment/pihole/pihole: failed: boom"}},
			[]string{"manifests 2026-12-02 03:00:00 by pi4-1: 3 objects (1 failed, 2 unchanged)", "- Deployment/pihole/pihole: failed: boom"}},
		{child.ApplyRecord{At: at, By: "pi4-1", Objects: 1, Counts: map[string]int{"unchanged": 1}, Generated: []string{"immich/immich-postgres"}},
			[]string{"by pi4-1: 1 objects (1 unchanged)\n          - generated Secret immich/immich-postgres"}},
		{child.ApplyRecord{At: at, By: "pi4-2", HeldBy: "pi4-2"}, []string{"pi4-2 held the apply lease and applied"}},
		{child.ApplyRecord{At: at, By: "pi4-1", Objects: 1, Counts: map[string]int{"created": 1},
			Placement: []string{"created immich-server without pi5 (not registered) after waiting 5m0s: …"}},
			[]string{"by pi4-1: 1 objects (1 created)\n          - created immich-server without pi5 (not registered)"}},
		{child.ApplyRecord{At: at, By: "pi4-1", Error: "rendering manifests: x"}, []string{"by pi4-1: FAILED: rendering manifests: x"}},
	} {
		var b strings.Builder
		writeStatus(&b, statusScreen{StatusReport: agent.StatusReport{Manifests: &tc.rec}})
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("status lacks %q:\n%s", w, b.String())
			}
		}
	}
}

// A firmware-style cgroup_disable=memory after nodeagent's flags is named,
// with where to remove it, instead of "reboot".
func TestDoctorNamesALateCgroupDisable(t *testing.T) {
	root := t.TempDir()
	const ours = "console=tty1 root=PARTUUID=x rootwait cgroup_memory=1 cgroup_enable=memory"
	writeFiles(t, root, map[string]string{
		config.DefaultPath:                  homelabWithLocalRelease(t),
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n",
		"/proc/cmdline":                     ours + " cgroup_disable=memory\n",
		"/boot/firmware/cmdline.txt":        ours + " cgroup_disable=memory\n",
	}, 0o644)
	out, err := runDoctor(t, root)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("doctor: err = %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		"FAIL memory-cgroup  /proc/cmdline has cgroup_disable=memory after nodeagent's \"cgroup_memory=1 cgroup_enable=memory\"",
		"fix: remove cgroup_disable=memory from /boot/firmware/cmdline.txt",
	} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
}

// One screen: what the daemon does now, each recorded error once with its
// count, and nothing "unknown" about what cannot exist before the join.
func TestStatusIsOneScreen(t *testing.T) {
	long := "k3s: installing k3s: " + strings.Repeat("downloading x: ", 40) + "no such host"
	r := statusScreen{
		StatusReport: agent.StatusReport{Node: "pi4-1", Role: "server",
			LastErrors: []string{"2026-12-02T12:00:00Z " + long, "2026-12-02T12:00:30Z " + long, "2026-12-02T12:01:30Z preflight: reboot required", "2026-12-02T12:02:30Z " + long},
			Problems:   []string{"k3s: unit k3s.service: not found", "register: loading kubeconfig /etc/rancher/k3s/k3s.yaml: no such file or directory"}},
		Daemon: &agent.Live{Phase: "k3s", PhaseSince: time.Date(2026, 12, 2, 12, 3, 0, 0, time.Local), Status: "phase: k3s", StatusSince: time.Date(2026, 12, 2, 12, 3, 0, 0, time.Local)},
	}
	var b strings.Builder
	writeStatus(&b, r)
	out := b.String()
	for _, want := range []string{"daemon    phase: k3s (since 12:03:00)", "phase     k3s since 12:03:00", "(3×): k3s: installing k3s", "not yet   k3s, register (the node has not joined)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "error "); n != 2 {
		t.Errorf("%d error lines, want 2 (each error once):\n%s", n, out)
	}
	if strings.Contains(out, "unknown") {
		t.Errorf("status says unknown before the join:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len([]rune(line)) > 200 {
			t.Errorf("a line of %d characters:\n%s", len([]rune(line)), line)
		}
	}
	if last := strings.Split(strings.TrimSpace(out), "\n"); !strings.Contains(strings.Join(last, "\n"), "reboot required") {
		t.Errorf("the other error is missing:\n%s", out)
	}
}

// With an invalid cluster file, status still says what the daemon does.
func TestStatusWithAnInvalidClusterFile(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: "cluster:\n  name: [x\n"}, 0o644)
	writeFiles(t, root, map[string]string{agent.LivePath: fmt.Sprintf(`{"pid":%d,"status":"in step","statusSince":"2026-12-02T12:00:00Z"}`, os.Getpid())}, 0o644)
	writeFiles(t, root, map[string]string{fmt.Sprintf("/proc/%d/status", os.Getpid()): ""}, 0o644)
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newStatusCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--root", root, "--node", "pi4-1", "status"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "cluster.yaml:2") {
		t.Errorf("err = %v, want the file's error", err)
	}
	if !strings.Contains(out.String(), "daemon    in step (since ") {
		t.Errorf("status does not say what the daemon does:\n%s", out.String())
	}
}

// With S3 snapshot copies, doctor checks the credentials file on servers
// and never prints a key.
func TestDoctorChecksTheS3Credentials(t *testing.T) {
	root := t.TempDir()
	y := strings.Replace(homelabWithLocalRelease(t), "    retention: 5\n", `    retention: 5
    s3: {endpoint: s3.example.org, bucket: etcd, credentialsFile: /etc/nodeagent/etcd-s3-credentials}
`, 1)
	writeFiles(t, root, map[string]string{config.DefaultPath: y}, 0o644)
	const secret = "the-secret-application-key"
	writeFiles(t, root, map[string]string{"/etc/nodeagent/etcd-s3-credentials": "accessKey: id\nsecretKey: " + secret + "\n"}, 0o644)
	out, _ := runDoctor(t, root)
	if want := "FAIL etcd-s3-credentials reading the etcd snapshot S3 credentials: " + filepath.Join(root, "/etc/nodeagent/etcd-s3-credentials") + " has mode 0644"; !strings.Contains(squash(out), squash(want)) {
		t.Errorf("doctor lacks %q:\n%s", want, out)
	}
	if err := os.Chmod(filepath.Join(root, "/etc/nodeagent/etcd-s3-credentials"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = runDoctor(t, root)
	if want := "ok etcd-s3-credentials /etc/nodeagent/etcd-s3-credentials holds accessKey and secretKey"; !strings.Contains(squash(out), want) {
		t.Errorf("doctor lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("doctor prints the secret key:\n%s", out)
	}
}
