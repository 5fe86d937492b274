package preflight

import (
	"os"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// memArg is one kernel argument that turns the memory cgroup on or off.
type memArg struct {
	Arg    string
	Enable bool
}

// memoryArgs lists, in command-line order, the arguments that switch the
// memory cgroup: upstream cgroup_disable=<list>, the Raspberry Pi kernel's
// downstream cgroup_enable=<list> and its older cgroup_memory=0|1. The kernel
// applies them in order, so the last one wins (raspberrypi/linux#6980, #6524).
func memoryArgs(cmdline string) []memArg {
	var out []memArg
	first, _, _ := strings.Cut(cmdline, "\n")
	for _, f := range strings.Fields(first) {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch key {
		case "cgroup_enable", "cgroup_disable":
			for _, c := range strings.Split(val, ",") {
				if c == "memory" {
					out = append(out, memArg{Arg: f, Enable: key == "cgroup_enable"})
				}
			}
		case "cgroup_memory":
			out = append(out, memArg{Arg: f, Enable: val == "1"})
		}
	}
	return out
}

// MemoryDiagnosis explains why the memory controller is off, from the running
// kernel's command line and the cmdline.txt nodeagent edits.
type MemoryDiagnosis struct {
	// Effective is true when the running command line holds nodeagent's
	// flags: a reboot would change nothing.
	Effective bool
	// Overridden is the argument that comes after nodeagent's flags and
	// turns the controller off again ("" if none).
	Overridden string
	// InFile is true when Overridden is in cmdline.txt itself.
	InFile  bool
	Message string
	Fix     string
}

// DiagnoseMemoryCgroup is pure: running is /proc/cmdline, path and file are
// the cmdline.txt found ("" when none). Only called when the controller is off.
func DiagnoseMemoryCgroup(running, path, file string) MemoryDiagnosis {
	var d MemoryDiagnosis
	if path == "" {
		path = cmdlinePaths[0]
	}
	flags := strings.Join(cgroupArgs, " ")
	if _, missing := AddCmdlineArgs(running, cgroupArgs); missing {
		d.Message = "the memory cgroup controller is not enabled; kubelet will not start"
		d.Fix = "add \"" + flags + "\" to " + path + " (nodeagent does this) and reboot"
		if _, fileMissing := AddCmdlineArgs(file, cgroupArgs); !fileMissing {
			d.Fix = path + " enables it already: reboot (if it still is off after a reboot, the firmware reads another file: see config.txt cmdline=)"
		}
		return d
	}
	d.Effective = true
	args := memoryArgs(running)
	if n := len(args); n > 0 && !args[n-1].Enable {
		d.Overridden = args[n-1].Arg
		d.Message = "/proc/cmdline has " + d.Overridden + " after nodeagent's \"" + flags +
			"\"; the kernel applies them in order and the last one wins, so the memory controller is off and k3s would fail with \"failed to find memory cgroup\""
		for _, a := range memoryArgs(file) {
			if a.Arg == d.Overridden {
				d.InFile = true
			}
		}
		if d.InFile {
			d.Fix = "remove " + d.Overridden + " from " + path + " (nodeagent's flags must be the last memory setting) and reboot"
		} else {
			d.Fix = d.Overridden + " is not in " + path + ": something adds it after that file (the Raspberry Pi firmware puts the device tree's bootargs before cmdline.txt, so look at config.txt cmdline=/os_prefix=, a bootloader such as U-Boot, or an initramfs hook); remove it there and reboot"
		}
		return d
	}
	d.Message = "the kernel command line enables the memory cgroup (\"" + flags +
		"\" is in /proc/cmdline, nothing disables it later) but the controller is still not available"
	d.Fix = "the kernel may be built without it: on kernels 6.12 and later cgroup v1 memory needs CONFIG_MEMCG_V1, so boot with cgroup v2 (remove systemd.unified_cgroup_hierarchy=0 from " +
		path + ") or install the distribution's Raspberry Pi kernel, then reboot"
	return d
}

// diagnoseMemory reads the running command line and cmdline.txt under root.
func diagnoseMemory(root host.Root) MemoryDiagnosis {
	running, _ := os.ReadFile(root.Path("/proc/cmdline"))
	path, file, err := readCmdline(root)
	if err != nil {
		path, file = "", nil
	}
	return DiagnoseMemoryCgroup(string(running), path, string(file))
}
