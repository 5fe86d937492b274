package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	cadvisorapi "github.com/google/cadvisor/info/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"sigs.k8s.io/yaml"
)

// capacityFile is the TEST-ONLY setting of the machine a node reports,
// below K3S_STANDIN_ROOT: k3s has no such file; its kubelet's cadvisor
// reads the host. The e2e's containers all run on one small host, and the
// scheduler must decide as it would on the Pis (4 GiB vs 8 GiB), so each
// node says what it is.
const capacityFile = "/etc/k3s-standin/capacity.yaml"

// machineCapacity is what cadvisor's MachineInfo reports: whole cores (its
// NumCores) and bytes of memory (MemoryCapacity). The kubelet turns them
// into the Node's capacity (pkg/kubelet/cadvisor/util.go
// CapacityFromMachineInfo).
type machineCapacity struct {
	cpu    int
	memory int64
}

// loadCapacity reads path; an absent file means the host's own CPU count
// and MemTotal (meminfo), as the real cadvisor reports. A key left out of
// the file is the host's too.
func loadCapacity(path, meminfo string) (machineCapacity, error) {
	host := func() (machineCapacity, error) {
		mem, err := memTotal(meminfo)
		return machineCapacity{cpu: runtime.NumCPU(), memory: mem}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return host()
	}
	if err != nil {
		return machineCapacity{}, fmt.Errorf("reading %s: %w", path, err)
	}
	c, err := parseCapacity(path, data)
	if err != nil || c.cpu > 0 && c.memory > 0 {
		return c, err
	}
	h, err := host()
	if c.cpu == 0 {
		c.cpu = h.cpu
	}
	if c.memory == 0 {
		c.memory = h.memory
	}
	return c, err
}

// parseCapacity is the pure part of loadCapacity: keys cpu (a whole number
// of cores, "4" or 4) and memory (a quantity, "4Gi"); any other key, or a
// value that is not positive, is refused naming the file and the key.
func parseCapacity(path string, data []byte) (machineCapacity, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return machineCapacity{}, fmt.Errorf("%s: %w", path, err)
	}
	var c machineCapacity
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q, err := resource.ParseQuantity(strings.TrimSpace(fmt.Sprint(raw[k])))
		if err != nil {
			return machineCapacity{}, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		switch k {
		case "cpu":
			if q.Sign() <= 0 || q.MilliValue()%1000 != 0 {
				return machineCapacity{}, fmt.Errorf("%s: cpu %q: want a positive whole number of cores", path, q.String())
			}
			c.cpu = int(q.Value())
		case "memory":
			if q.Sign() <= 0 {
				return machineCapacity{}, fmt.Errorf("%s: memory %q: want a positive quantity such as 4Gi", path, q.String())
			}
			c.memory = q.Value()
		default:
			return machineCapacity{}, fmt.Errorf("%s: unknown key %q (want cpu, memory)", path, k)
		}
	}
	return c, nil
}

// memTotal reads MemTotal from /proc/meminfo, in bytes, as cadvisor does.
func memTotal(meminfo string) (int64, error) {
	data, err := os.ReadFile(meminfo)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", meminfo, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemTotal %q: %w", meminfo, f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no MemTotal", meminfo)
}

// capacityCadvisor is kubemark's fake cadvisor (as hollow nodes use) with
// the machine's cores and memory replaced by the configured capacity;
// kubemark's own reports 1 core and 3.75 GiB whatever the node.
type capacityCadvisor struct {
	*cadvisortest.Fake
	c machineCapacity
}

func (f capacityCadvisor) MachineInfo(logger klog.Logger) (*cadvisorapi.MachineInfo, error) {
	mi, err := f.Fake.MachineInfo(logger)
	if err != nil {
		return nil, err
	}
	mi.NumCores = f.c.cpu
	mi.MemoryCapacity = uint64(f.c.memory)
	return mi, nil
}
