package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestDecideReboot(t *testing.T) {
	last := &RebootRecord{CmdlineSHA256: "new", BootID: "boot-1"}
	tests := []struct {
		name string
		in   rebootInput
		want rebootVerdict
	}{
		{"fresh node, default: reboot", rebootInput{Policy: RebootBySetting, Setting: config.RebootUntilJoined, Cmdline: "new", BootID: "boot-1"}, verdictReboot},
		{"joined node, default: manual", rebootInput{Policy: RebootBySetting, Setting: config.RebootUntilJoined, Joined: true, Cmdline: "new", BootID: "boot-1"}, verdictManual},
		{"joined node, auto: reboot", rebootInput{Policy: RebootBySetting, Setting: config.RebootAuto, Joined: true, Cmdline: "new", BootID: "boot-1"}, verdictReboot},
		{"fresh node, manual", rebootInput{Policy: RebootBySetting, Setting: config.RebootManual, Cmdline: "new", BootID: "boot-1"}, verdictManual},
		{"terminal join never reboots", rebootInput{Policy: RebootNever, Setting: config.RebootAuto, Cmdline: "new", BootID: "boot-1"}, verdictManual},
		{"join --reboot overrides manual", rebootInput{Policy: RebootAlways, Setting: config.RebootManual, Joined: true, Cmdline: "new", BootID: "boot-1"}, verdictReboot},
		{"no boot id: cannot count reboots", rebootInput{Policy: RebootBySetting, Setting: config.RebootAuto, Cmdline: "new"}, verdictManual},
		{"asked in this boot already", rebootInput{Policy: RebootBySetting, Setting: config.RebootAuto, Last: last, Cmdline: "new", BootID: "boot-1"}, verdictPending},
		{"rebooted for this content, still missing", rebootInput{Policy: RebootBySetting, Setting: config.RebootAuto, Last: last, Cmdline: "new", BootID: "boot-2"}, verdictNotEffective},
		{"join --reboot does not loop either", rebootInput{Policy: RebootAlways, Setting: config.RebootAuto, Last: last, Cmdline: "new", BootID: "boot-2"}, verdictNotEffective},
		{"a new change gets its own reboot", rebootInput{Policy: RebootBySetting, Setting: config.RebootAuto, Last: last, Cmdline: "newer", BootID: "boot-2"}, verdictReboot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideReboot(tc.in); got != tc.want {
				t.Errorf("decideReboot(%+v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func writeHost(t *testing.T, a *Agent, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := a.Root.Path(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The preflight step on a Pi whose memory cgroup is off: what it says and
// that the join stops there, before k3s.
func TestPreflightMemoryCgroup(t *testing.T) {
	const ours = "console=tty1 root=PARTUUID=x rootwait cgroup_memory=1 cgroup_enable=memory"
	tests := []struct {
		name   string
		files  map[string]string
		record *RebootRecord
		policy RebootPolicy
		is     error
		says   []string
	}{
		{
			name: "late cgroup_disable=memory: reported, no reboot",
			files: map[string]string{"/proc/cmdline": ours + " cgroup_disable=memory\n", "/boot/firmware/cmdline.txt": ours + "\n",
				"/proc/sys/kernel/random/boot_id": "boot-1\n"},
			policy: RebootBySetting, is: ErrMemoryCgroup,
			says: []string{"cgroup_disable=memory after nodeagent's", "fix: cgroup_disable=memory is not in /boot/firmware/cmdline.txt"},
		},
		{
			name:   "terminal join: reboot required",
			files:  map[string]string{"/proc/cmdline": "console=tty1\n", "/boot/firmware/cmdline.txt": "console=tty1\n", "/proc/sys/kernel/random/boot_id": "boot-1\n"},
			policy: RebootNever, is: ErrRebootRequired, says: []string{"/boot/firmware/cmdline.txt now enables the memory cgroup"},
		},
		{
			name:   "rebooted once already, flags still missing: no second reboot",
			files:  map[string]string{"/proc/cmdline": "console=tty1\n", "/boot/firmware/cmdline.txt": ours + "\n", "/proc/sys/kernel/random/boot_id": "boot-2\n"},
			record: &RebootRecord{CmdlineSHA256: sha256Hex(ours + "\n"), BootID: "boot-1", At: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)},
			policy: RebootBySetting, is: ErrMemoryCgroup, says: []string{"rebooted at 2026-12-02T03:00:00Z", "not rebooting again"},
		},
		{
			name:   "asked in this boot: waits",
			files:  map[string]string{"/proc/cmdline": "console=tty1\n", "/boot/firmware/cmdline.txt": ours + "\n", "/proc/sys/kernel/random/boot_id": "boot-1\n"},
			record: &RebootRecord{CmdlineSHA256: sha256Hex(ours + "\n"), BootID: "boot-1"},
			policy: RebootBySetting, is: ErrRebooting, says: []string{"asked systemd"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := &recordingReporter{}
			a := testAgent(t, "pi4-1", rep)
			a.RebootPolicy = tc.policy
			writeHost(t, a, tc.files)
			writeHost(t, a, map[string]string{"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n"})
			if tc.record != nil {
				if err := SaveState(a.Root, State{Reboot: tc.record}); err != nil {
					t.Fatal(err)
				}
			}
			err := a.Join(context.Background())
			if !errors.Is(err, tc.is) {
				t.Fatalf("join: err = %v, want %v", err, tc.is)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("join error %q lacks %q", err, s)
				}
			}
			for _, e := range rep.events {
				if strings.HasPrefix(e, "start "+StepK3s) {
					t.Errorf("k3s step ran after a failed preflight: %v", rep.events)
				}
			}
			st, err := LoadState(a.Root)
			if err != nil {
				t.Fatal(err)
			}
			if tc.record != nil && *st.Reboot != *tc.record {
				t.Errorf("reboot record changed: %+v, want %+v", st.Reboot, tc.record)
			}
		})
	}
}
