package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// cgroupArgs enable the memory cgroup on Raspberry Pi kernels
// (https://docs.k3s.io/installation/requirements, Raspberry Pi OS section).
var cgroupArgs = []string{"cgroup_memory=1", "cgroup_enable=memory"}

// cmdlinePaths: Bookworm and later boot from /boot/firmware, older releases
// from /boot.
var cmdlinePaths = []string{"/boot/firmware/cmdline.txt", "/boot/cmdline.txt"}

// cmdlineBackupSuffix names the copy taken before nodeagent first edits the file.
const cmdlineBackupSuffix = ".nodeagent.bak"

// CmdlineResult says what EnsureCmdline did.
type CmdlineResult struct {
	// Path is the host path of the cmdline.txt found.
	Path    string
	Changed bool
	// RebootRequired is true when the running kernel lacks the arguments.
	RebootRequired bool
	// Content is the file as it is now (after the edit).
	Content string
}

// EnsureCmdline adds the memory cgroup arguments to the Pi's cmdline.txt when
// missing, keeping a backup of the original (taken once, never overwritten),
// and reports whether a reboot is needed for them to take effect.
func EnsureCmdline(root host.Root) (CmdlineResult, error) {
	var res CmdlineResult
	path, data, err := readCmdline(root)
	if err != nil {
		return res, err
	}
	res.Path = path
	line, changed := AddCmdlineArgs(string(data), cgroupArgs)
	res.Content = line
	if changed {
		if err := backupOnce(root.Path(res.Path), data); err != nil {
			return res, err
		}
		st, err := os.Stat(root.Path(res.Path))
		if err != nil {
			return res, fmt.Errorf("checking %s: %w", res.Path, err)
		}
		if _, err := host.WriteFileAtomic(root.Path(res.Path), []byte(line), st.Mode().Perm()); err != nil {
			return res, fmt.Errorf("updating %s: %w", res.Path, err)
		}
		res.Changed = true
	}
	running, err := os.ReadFile(root.Path("/proc/cmdline"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("reading /proc/cmdline: %w", err)
	}
	_, missing := AddCmdlineArgs(string(running), cgroupArgs)
	res.RebootRequired = changed || missing
	return res, nil
}

// CmdlineEdit is what EnsureCmdline would write, for `nodeagent plan`:
// the file, its new first line, and whether it changes at all.
func CmdlineEdit(root host.Root) (path, line string, changed bool, err error) {
	path, data, err := readCmdline(root)
	if err != nil {
		return "", "", false, err
	}
	line, changed = AddCmdlineArgs(string(data), cgroupArgs)
	return path, line, changed, nil
}

// readCmdline finds the Pi's cmdline.txt and reads it.
func readCmdline(root host.Root) (string, []byte, error) {
	for _, p := range cmdlinePaths {
		b, err := os.ReadFile(root.Path(p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return p, b, nil
	}
	return "", nil, fmt.Errorf("finding the kernel command line: none of %s exists", strings.Join(cmdlinePaths, ", "))
}

// AddCmdlineArgs returns the one-line kernel command line with each arg
// appended unless already present, and whether anything was added. The Pi
// firmware reads only the first line, so the result is one line plus "\n".
func AddCmdlineArgs(line string, args []string) (string, bool) {
	first, _, _ := strings.Cut(line, "\n")
	fields := strings.Fields(first)
	have := map[string]bool{}
	for _, f := range fields {
		have[f] = true
	}
	changed := false
	for _, a := range args {
		if !have[a] {
			fields = append(fields, a)
			have[a] = true
			changed = true
		}
	}
	if !changed {
		return line, false
	}
	return strings.Join(fields, " ") + "\n", true
}

func backupOnce(path string, data []byte) error {
	bak := path + cmdlineBackupSuffix
	f, err := os.OpenFile(bak, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	return f.Close()
}
