package uninstall

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Observed is what the host holds of k3s and of nodeagent's own changes.
type Observed struct {
	// K3sUnits are the k3s*.service unit files in UnitDir (k3s.service,
	// k3s-agent.service), by name.
	K3sUnits []string
	// DaemonUnit is true when nodeagent.service is installed: it must stop
	// first, or its next pass would install k3s again.
	DaemonUnit bool
	// MountUnits are nodeagent's data-disk mount units, by name.
	MountUnits []string
	// Procs maps every process to its parent; Shims are the pids of the
	// containerd shims k3s started (their binary under DataDir/data/).
	Procs map[int]int
	Shims []int
	// Mounts are the mount points, as /proc/self/mountinfo lists them.
	Mounts []string
	// NetNS are the named network namespaces (ip netns).
	NetNS []string
	// Links are the network interfaces with their master ("" for none).
	Links []Link
	// Rules are iptables-save's and ip6tables-save's output, by command;
	// a family whose tools are missing is absent.
	Rules map[string]string
	// Present are the paths of Paths, Symlinks and the etcd data that
	// exist; Symlinks holds where each of LinkNames points.
	Present  map[string]bool
	Symlinks map[string]string
}

// Link is a network interface.
type Link struct {
	Name, Master string
}

// Observe reads the host through root and run; extra are more of
// nodeagent's own files to look for (Options.Extra).
func Observe(ctx context.Context, root host.Root, run host.Runner, extra ...string) (Observed, error) {
	var o Observed
	var err error
	if o.K3sUnits, err = unitFiles(root, "k3s*.service"); err != nil {
		return o, err
	}
	o.MountUnits, err = nodeagentMountUnits(root)
	if err != nil {
		return o, err
	}
	for _, dir := range []string{UnitDir, "/lib/systemd/system", "/usr/lib/systemd/system"} {
		if exists(root.Path(dir + "/" + DaemonUnit)) {
			o.DaemonUnit = true
		}
	}
	if o.Procs, o.Shims, err = processes(root); err != nil {
		return o, err
	}
	if o.Mounts, err = mountPoints(root); err != nil {
		return o, err
	}
	if out, err := run.Run(ctx, "ip", "netns", "list"); err == nil {
		o.NetNS = parseNetNS(string(out))
	}
	out, err := run.Run(ctx, "ip", "-o", "link", "show")
	if err != nil {
		return o, err
	}
	o.Links = parseLinks(string(out))
	o.Rules = map[string]string{}
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		if out, err := run.Run(ctx, save); err == nil {
			o.Rules[save] = string(out)
		}
	}
	o.Present, o.Symlinks = map[string]bool{}, map[string]string{}
	for _, p := range append(append(append([]string{EtcdDataDir}, Trees...), Files...), extra...) {
		if _, err := os.Lstat(root.Path(p)); err == nil {
			o.Present[p] = true
		}
	}
	for _, name := range LinkNames {
		p := BinDir + "/" + name
		if target, err := os.Readlink(root.Path(p)); err == nil {
			o.Symlinks[p] = target
		}
	}
	return o, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func unitFiles(root host.Root, pattern string) ([]string, error) {
	matches, err := filepath.Glob(root.Path(UnitDir + "/" + pattern))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		// install.sh stops only non-empty unit files ([ -s $service ]).
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			out = append(out, filepath.Base(m))
		}
	}
	return out, nil
}

// nodeagentMountUnits are the *.mount files in UnitDir that nodeagent
// wrote: internal/disk starts each with MountUnitHeader.
func nodeagentMountUnits(root host.Root) ([]string, error) {
	matches, err := filepath.Glob(root.Path(UnitDir + "/*.mount"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(data, []byte(MountUnitHeader)) {
			out = append(out, filepath.Base(m))
		}
	}
	return out, nil
}

// processes reads each process's parent and finds k3s's containerd shims,
// as k3s-killall.sh does with ps: a command line whose program is under
// DataDir/data/<hash>/bin/containerd-shim*.
func processes(root host.Root) (map[int]int, []int, error) {
	entries, err := os.ReadDir(root.Path("/proc"))
	if err != nil {
		return nil, nil, err
	}
	procs := map[int]int{}
	var shims []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(root.Path("/proc/" + e.Name() + "/stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// The command name in parentheses may hold spaces: the parent is
		// the second field after its closing parenthesis.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		if f := strings.Fields(rest); len(f) >= 2 {
			procs[pid], _ = strconv.Atoi(f[1])
		}
		cmdline, _ := os.ReadFile(root.Path("/proc/" + e.Name() + "/cmdline"))
		if IsShim(string(bytes.SplitN(cmdline, []byte{0}, 2)[0])) {
			shims = append(shims, pid)
		}
	}
	return procs, shims, nil
}

// IsShim tells a containerd shim of k3s by its program path.
func IsShim(program string) bool {
	rest, ok := strings.CutPrefix(program, DataDir+"/data/")
	if !ok {
		return false
	}
	_, bin, ok := strings.Cut(rest, "/")
	return ok && strings.HasPrefix(bin, "bin/containerd-shim")
}

// mountPoints lists the mount points of mountinfo (field 5), unescaped.
func mountPoints(root host.Root) ([]string, error) {
	f, err := os.Open(root.Path("/proc/self/mountinfo"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 5 {
			out = append(out, unescapeOctal(fields[4]))
		}
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \040-style escapes of mountinfo.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseNetNS reads `ip netns list`: "cni-1234 (id: 0)" per line.
func parseNetNS(out string) []string {
	var ns []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// parseLinks reads `ip -o link show`: "3: veth1@if2: <...> mtu 1450 ...
// master cni0 state UP ...".
func parseLinks(out string) []Link {
	var links []Link
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		link := Link{Name: name}
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "master" {
				link.Master = f[i+1]
			}
		}
		links = append(links, link)
	}
	return links
}
