package preflight

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Severity of a failed check.
type Severity string

// Severities: an error stops the join, a warning is shown by doctor.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Check is one preflight result, for `nodeagent doctor` and the join phase.
type Check struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// RequiredModules are the kernel modules k3s needs: bridge netfilter and
// overlayfs for containers, vxlan for flannel's default backend.
var RequiredModules = []string{"br_netfilter", "overlay", "vxlan"}

// HostChecks runs the host checks that need no network or D-Bus.
func HostChecks(root host.Root) []Check {
	checks := []Check{CheckMemoryCgroup(root)}
	checks = append(checks, CheckModules(root, RequiredModules)...)
	return append(checks, CheckSwap(root))
}

// CheckMemoryCgroup checks that the memory cgroup controller is enabled,
// as the k3s install script does: cgroup v2 lists it in cgroup.controllers,
// v1 marks it enabled in /proc/cgroups. Raspberry Pi kernels disable it
// unless the kernel command line enables it; when it is off, the message
// says why (see DiagnoseMemoryCgroup).
func CheckMemoryCgroup(root host.Root) Check {
	c := Check{Name: "memory-cgroup", Severity: SeverityError}
	if v2, err := os.ReadFile(root.Path("/sys/fs/cgroup/cgroup.controllers")); err == nil &&
		containsField(string(v2), "memory") {
		c.OK, c.Message = true, "memory controller enabled (cgroup v2)"
		return c
	}
	if v1, err := os.ReadFile(root.Path("/proc/cgroups")); err == nil && memoryEnabledV1(v1) {
		c.OK, c.Message = true, "memory controller enabled (/proc/cgroups)"
		return c
	}
	d := diagnoseMemory(root)
	c.Message, c.Fix = d.Message, d.Fix
	return c
}

// memoryEnabledV1 parses /proc/cgroups: "#subsys_name hierarchy num_cgroups enabled".
func memoryEnabledV1(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "memory" {
			return f[3] == "1"
		}
	}
	return false
}

// CheckModules checks that each module is loaded or built in: /sys/module/<m>
// exists for both, /proc/modules lists loaded ones. A missing module is a
// warning: the unit modprobes br_netfilter and overlay, flannel loads vxlan.
func CheckModules(root host.Root, modules []string) []Check {
	loaded := map[string]bool{}
	if data, err := os.ReadFile(root.Path("/proc/modules")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				loaded[f[0]] = true
			}
		}
	}
	out := make([]Check, 0, len(modules))
	for _, m := range modules {
		c := Check{Name: "module-" + m, Severity: SeverityWarning}
		if _, err := os.Stat(root.Path("/sys/module/" + m)); err == nil || loaded[m] {
			c.OK, c.Message = true, "kernel module "+m+" available"
		} else {
			c.Message = "kernel module " + m + " is not loaded"
			c.Fix = "modprobe " + m + " && echo " + m + " > /etc/modules-load.d/" + m + ".conf"
		}
		out = append(out, c)
	}
	return out
}

// CheckSwap warns when swap is on: kubelet's memory accounting and eviction
// assume no swap, and on an SD card swap wears the card.
func CheckSwap(root host.Root) Check {
	c := Check{Name: "swap", Severity: SeverityWarning}
	data, err := os.ReadFile(root.Path("/proc/swaps"))
	if errors.Is(err, fs.ErrNotExist) {
		c.OK, c.Message = true, "no swap support"
		return c
	}
	if err != nil {
		c.Message = "cannot read /proc/swaps: " + err.Error()
		return c
	}
	var active []string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) > 0 {
			active = append(active, f[0])
		}
	}
	if len(active) == 0 {
		c.OK, c.Message = true, "swap is off"
		return c
	}
	c.Message = "swap is on (" + strings.Join(active, ", ") + ")"
	c.Fix = "swapoff -a and disable the swap service (dphys-swapfile or rpi-swap)"
	return c
}

func containsField(s, want string) bool {
	for _, f := range strings.Fields(s) {
		if f == want {
			return true
		}
	}
	return false
}
