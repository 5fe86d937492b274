package preflight

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Pi 5 command line of raspberrypi/linux#6980, firmware part first.
const piFirmwareArgs = "reboot=w coherent_pool=1M 8250.nr_uarts=1 cgroup_disable=memory numa_policy=interleave "

func TestMemoryArgs(t *testing.T) {
	got := memoryArgs("a cgroup_disable=memory cgroup_memory=1 cgroup_enable=cpuset,memory cgroup_disable=cpuset b cgroup_memory=0\nignored cgroup_enable=memory")
	want := []memArg{{"cgroup_disable=memory", false}, {"cgroup_memory=1", true}, {"cgroup_enable=cpuset,memory", true}, {"cgroup_memory=0", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memoryArgs (-want +got):\n%s", diff)
	}
}

func TestDiagnoseMemoryCgroup(t *testing.T) {
	const path = "/boot/firmware/cmdline.txt"
	const ours = "console=tty1 root=PARTUUID=x rootwait cgroup_memory=1 cgroup_enable=memory"
	tests := []struct {
		name, running, file string
		want                MemoryDiagnosis
		fix                 []string // substrings of Fix
	}{
		{
			name: "flags not booted yet", running: "console=tty1 root=PARTUUID=x rootwait", file: "console=tty1\n",
			want: MemoryDiagnosis{}, fix: []string{"add \"cgroup_memory=1 cgroup_enable=memory\" to " + path},
		},
		{
			name: "file enables it, kernel booted before", running: "console=tty1", file: ours + "\n",
			want: MemoryDiagnosis{}, fix: []string{path + " enables it already: reboot"},
		},
		{
			name: "firmware disable before ours: ours win, kernel lacks it", running: piFirmwareArgs + ours, file: ours + "\n",
			want: MemoryDiagnosis{Effective: true}, fix: []string{"CONFIG_MEMCG_V1"},
		},
		{
			name: "late disable from outside cmdline.txt", running: ours + " cgroup_disable=memory", file: ours + "\n",
			want: MemoryDiagnosis{Effective: true, Overridden: "cgroup_disable=memory"},
			fix:  []string{"cgroup_disable=memory is not in " + path, "config.txt cmdline="},
		},
		{
			name: "late disable in cmdline.txt itself", running: ours + " cgroup_disable=memory", file: ours + " cgroup_disable=memory\n",
			want: MemoryDiagnosis{Effective: true, Overridden: "cgroup_disable=memory", InFile: true},
			fix:  []string{"remove cgroup_disable=memory from " + path},
		},
		{
			name: "late cgroup_memory=0", running: ours + " cgroup_memory=0", file: ours + " cgroup_memory=0\n",
			want: MemoryDiagnosis{Effective: true, Overridden: "cgroup_memory=0", InFile: true},
			fix:  []string{"remove cgroup_memory=0 from " + path},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DiagnoseMemoryCgroup(tc.running, path, tc.file)
			for _, f := range tc.fix {
				if !strings.Contains(got.Fix, f) {
					t.Errorf("fix %q lacks %q", got.Fix, f)
				}
			}
			if tc.want.Overridden != "" && !strings.Contains(got.Message, tc.want.Overridden+" after nodeagent's") {
				t.Errorf("message %q does not name %s after nodeagent's flags", got.Message, tc.want.Overridden)
			}
			got.Message, got.Fix = "", ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnosis (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckMemoryCgroupNamesTheLateDisable(t *testing.T) {
	root := newRoot(t)
	writeTree(t, root, map[string]string{
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n",
		"/proc/cmdline":                     "console=tty1 cgroup_memory=1 cgroup_enable=memory cgroup_disable=memory\n",
		"/boot/firmware/cmdline.txt":        "console=tty1 cgroup_memory=1 cgroup_enable=memory\n",
	})
	c := CheckMemoryCgroup(root)
	if c.OK || !strings.Contains(c.Message, "cgroup_disable=memory after nodeagent's") || !strings.Contains(c.Fix, "not in /boot/firmware/cmdline.txt") {
		t.Errorf("check = %+v, want the late cgroup_disable=memory named", c)
	}
	writeTree(t, root, map[string]string{"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n"})
	if c := CheckMemoryCgroup(root); !c.OK {
		t.Errorf("check with memory in cgroup.controllers = %+v, want ok", c)
	}
}
