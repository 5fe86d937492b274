package preflight

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/host"
)

const procCgroupsMemOff = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\nmemory\t0\t1\t0\n"
const procCgroupsMemOn = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\nmemory\t0\t1\t1\n"

func TestPreflight(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		dirs  []string
		want  map[string]bool // check name -> OK
	}{
		{
			name: "pi without memory cgroup, swap on, modules missing",
			files: map[string]string{
				"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n",
				"/proc/cgroups":                     procCgroupsMemOff,
				"/proc/swaps":                       "Filename\tType\tSize\tUsed\tPriority\n/var/swap file 102396 0 -2\n",
				"/proc/modules":                     "overlay 151552 0 - Live 0x0000000000000000\n",
			},
			want: map[string]bool{"memory-cgroup": false, "module-br_netfilter": false, "module-overlay": true,
				"module-vxlan": false, "swap": false},
		},
		{
			name: "ready node, cgroup v2, built-in modules",
			files: map[string]string{
				"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
				"/proc/swaps":                       "Filename\tType\tSize\tUsed\tPriority\n",
			},
			dirs: []string{"/sys/module/br_netfilter", "/sys/module/overlay", "/sys/module/vxlan"},
			want: map[string]bool{"memory-cgroup": true, "module-br_netfilter": true, "module-overlay": true,
				"module-vxlan": true, "swap": true},
		},
		{
			name:  "cgroup v1 memory enabled",
			files: map[string]string{"/proc/cgroups": procCgroupsMemOn, "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n"},
			want: map[string]bool{"memory-cgroup": true, "module-br_netfilter": false, "module-overlay": false,
				"module-vxlan": false, "swap": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			writeTree(t, root, tc.files)
			for _, d := range tc.dirs {
				if err := os.MkdirAll(root.Path(d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]bool{}
			for _, c := range HostChecks(root) {
				got[c.Name] = c.OK
				if !c.OK && (c.Fix == "" || c.Message == "") {
					t.Errorf("failed check %s lacks message or fix: %+v", c.Name, c)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsureCmdline(t *testing.T) {
	const orig = "console=serial0,115200 root=PARTUUID=1234-02 rootwait\n"
	tests := []struct {
		name        string
		files       map[string]string
		wantPath    string
		wantChanged bool
		wantReboot  bool
		wantLine    string
	}{
		{name: "bookworm adds args", files: map[string]string{"/boot/firmware/cmdline.txt": orig, "/proc/cmdline": orig},
			wantPath: "/boot/firmware/cmdline.txt", wantChanged: true, wantReboot: true,
			wantLine: "console=serial0,115200 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n"},
		{name: "bullseye path", files: map[string]string{"/boot/cmdline.txt": orig},
			wantPath: "/boot/cmdline.txt", wantChanged: true, wantReboot: true,
			wantLine: "console=serial0,115200 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n"},
		{name: "present, not yet rebooted", files: map[string]string{
			"/boot/firmware/cmdline.txt": "rootwait cgroup_enable=memory cgroup_memory=1\n", "/proc/cmdline": "rootwait\n"},
			wantPath: "/boot/firmware/cmdline.txt", wantReboot: true, wantLine: "rootwait cgroup_enable=memory cgroup_memory=1\n"},
		{name: "present and running", files: map[string]string{
			"/boot/firmware/cmdline.txt": "rootwait cgroup_memory=1 cgroup_enable=memory\n",
			"/proc/cmdline":              "coherent_pool=1M rootwait cgroup_memory=1 cgroup_enable=memory\n"},
			wantPath: "/boot/firmware/cmdline.txt", wantLine: "rootwait cgroup_memory=1 cgroup_enable=memory\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			writeTree(t, root, tc.files)
			res, err := EnsureCmdline(root)
			if err != nil {
				t.Fatal(err)
			}
			want := CmdlineResult{Path: tc.wantPath, Changed: tc.wantChanged, RebootRequired: tc.wantReboot, Content: tc.wantLine}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			line, _ := os.ReadFile(root.Path(tc.wantPath))
			if diff := cmp.Diff(tc.wantLine, string(line)); diff != "" {
				t.Errorf("cmdline (-want +got):\n%s", diff)
			}
			bak, err := os.ReadFile(root.Path(tc.wantPath + cmdlineBackupSuffix))
			if tc.wantChanged && string(bak) != tc.files[tc.wantPath] {
				t.Errorf("backup = %q, %v; want the original", bak, err)
			}
			if !tc.wantChanged && err == nil {
				t.Errorf("backup written although nothing changed")
			}
			// Idempotent: a second run changes nothing and keeps the backup.
			res2, err := EnsureCmdline(root)
			if err != nil || res2.Changed {
				t.Errorf("second run = %+v, %v; want unchanged", res2, err)
			}
		})
	}
	if _, err := EnsureCmdline(newRoot(t)); err == nil || !strings.Contains(err.Error(), "cmdline.txt") {
		t.Errorf("no cmdline.txt: error = %v", err)
	}
}

func TestWaitTimeSync(t *testing.T) {
	t.Run("synced on third poll", func(t *testing.T) {
		calls := 0
		src := func() (bool, error) { calls++; return calls >= 3, nil }
		if err := WaitTimeSync(context.Background(), host.RealClock{}, src, 5*time.Second, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if calls != 3 {
			t.Errorf("calls = %d, want 3", calls)
		}
	})
	t.Run("each reading while waiting is progress", func(t *testing.T) {
		// The daemon's watchdog counts it (issue #22, item 2).
		calls, marks := 0, 0
		ctx := host.WithProgress(context.Background(), func() { marks++ })
		src := func() (bool, error) { calls++; return calls >= 4, nil }
		if err := WaitTimeSync(ctx, host.RealClock{}, src, 5*time.Second, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if marks != 3 {
			t.Errorf("progress marks = %d, want 3 (one per unsynced reading)", marks)
		}
	})
	t.Run("an interrupted wait says so, not that the time ran out", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		reload := errors.New("the cluster file changed")
		src := func() (bool, error) { cancel(reload); return false, nil }
		err := WaitTimeSync(ctx, host.RealClock{}, src, 10*time.Minute, time.Millisecond)
		if !errors.Is(err, reload) || !strings.Contains(err.Error(), "interrupted after") || strings.Contains(err.Error(), "within 10m0s") {
			t.Errorf("error = %v, want it interrupted by the reload", err)
		}
	})
	t.Run("deadline names the last error", func(t *testing.T) {
		src := func() (bool, error) { return false, errors.New("timedated not running") }
		err := WaitTimeSync(context.Background(), host.RealClock{}, src, 50*time.Millisecond, 10*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "timedated not running") {
			t.Errorf("error = %v", err)
		}
	})
	got := []bool{
		CheckTimeSync(func() (bool, error) { return true, nil }).OK,
		CheckTimeSync(func() (bool, error) { return false, nil }).OK,
		CheckTimeSync(func() (bool, error) { return true, errors.New("x") }).OK,
	}
	if diff := cmp.Diff([]bool{true, false, false}, got); diff != "" {
		t.Errorf("CheckTimeSync (-want +got):\n%s", diff)
	}
}
