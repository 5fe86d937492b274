package main

import (
	"bytes"
	"context"
	"errors"
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

func TestDoctor(t *testing.T) {
	root := t.TempDir()
	out, err := runDoctor(t, root)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("doctor without a cluster file: err = %v, want exit 1\n%s", err, out)
	}
	if want := "FAIL cluster-file   no cluster file: copy"; !strings.Contains(out, want) {
		t.Errorf("doctor without a cluster file lacks %q:\n%s", want, out)
	}

	// The homelab as the user's cluster file, on an otherwise empty host.
	writeFiles(t, root, map[string]string{config.DefaultPath: string(config.DefaultYAML())}, 0o644)
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
	} {
		if !strings.Contains(out, want) {
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
	writeFiles(t, root, map[string]string{"/etc/nodeagent/token": "K10abc::server:0123456789abcdef0123456789abcdef\n",
		"/etc/nodeagent/agent-token": "fedcba9876543210fedcba9876543210\n"}, 0o600)
	out, err = runDoctor(t, root)
	if err != nil {
		t.Fatalf("doctor on a ready tree: %v\n%s", err, out)
	}
	for _, want := range []string{"ok   memory-cgroup", "ok   module-vxlan", "ok   swap", "ok   token ", "ok   agent-token "} {
		if !strings.Contains(out, want) {
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
		{child.ApplyRecord{At: at, By: "pi4-2", HeldBy: "pi4-2"}, []string{"pi4-2 held the apply lease and applied"}},
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
		config.DefaultPath:                  string(config.DefaultYAML()),
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
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
}
