package uninstall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// FirewallUndoer undoes nodeagent's UFW changes (firewall.Firewall's Undo,
// wrapped so this package needs no more of it).
type FirewallUndoer func(ctx context.Context) (done, left []string, err error)

// Applier carries a Plan out on the host.
type Applier struct {
	Root     host.Root
	Run      host.Runner
	Log      *zap.Logger
	Firewall FirewallUndoer
}

// Result is what Apply did not do: the failures (also joined in its error)
// and what it left on purpose.
type Result struct {
	Left []string
}

// Apply runs the actions in order, telling progress each one. A failed
// action does not stop the ones after it (k3s's scripts go on too, and a
// half-done uninstall is best finished), except a failed move of etcd's
// data aside: then nothing more is removed, so the data is never deleted.
func (a *Applier) Apply(ctx context.Context, p Plan, progress func(string)) (Result, error) {
	res := Result{Left: append([]string{}, p.Left...)}
	var errs []error
	for _, act := range p.Actions {
		progress(act.String())
		left, err := a.apply(ctx, act)
		for _, l := range left {
			if !slices.Contains(res.Left, l) { // the plan may have named it already
				res.Left = append(res.Left, l)
			}
		}
		if err == nil {
			continue
		}
		a.Log.Warn("uninstall step failed", zap.String("action", act.String()), zap.Error(err))
		errs = append(errs, fmt.Errorf("%s: %w", act, err))
		if act.Kind == MoveAside {
			errs = append(errs, errors.New("stopped before removing k3s's data, so etcd's data stays where it is"))
			break
		}
	}
	return res, errors.Join(errs...)
}

func (a *Applier) apply(ctx context.Context, act Action) ([]string, error) {
	switch act.Kind {
	case StopDaemon:
		return nil, a.systemctl(ctx, "disable", "--now", act.Target)
	case StopUnit:
		return nil, a.systemctl(ctx, "stop", act.Target)
	case KillTree:
		// A process that exits meanwhile makes kill fail for it alone.
		_, err := a.Run.Run(ctx, "kill", append([]string{"-9"}, act.Args...)...)
		if err != nil && strings.Contains(err.Error(), "No such process") {
			err = nil
		}
		return nil, err
	case Unmount:
		if _, err := a.Run.Run(ctx, "umount", "-f", act.Target); err != nil {
			return nil, err
		}
		return a.removeTree(act.Target)
	case DeleteNetNS:
		// Unmounting /run/netns/cni-* (as k3s-killall.sh does first) may
		// have removed it already.
		if _, err := os.Lstat(a.Root.Path("/run/netns/" + act.Target)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		_, err := a.Run.Run(ctx, "ip", "netns", "delete", act.Target)
		return nil, err
	case DeleteLink:
		_, err := a.Run.Run(ctx, "ip", "link", "delete", act.Target)
		return nil, err
	case RestoreRules:
		return nil, a.restoreRules(ctx, act.Target, act.Args[0])
	case UndoFirewall:
		return a.undoFirewall(ctx)
	case RemoveMount:
		// Stopping the mount unit unmounts the disk; its files are not
		// touched. A busy disk stays mounted and its unit stays.
		if err := a.systemctl(ctx, "disable", "--now", act.Target); err != nil {
			return nil, err
		}
		return nil, removeFile(a.Root.Path(UnitDir + "/" + act.Target))
	case RemoveUnit:
		return nil, a.removeUnit(ctx, act.Target)
	case Reload:
		return nil, a.systemctl(ctx, "daemon-reload")
	case MoveAside:
		return nil, a.moveAside(act.Target, act.Args[0])
	case RemoveTree:
		return a.removeTree(act.Target)
	case RemoveFile:
		return nil, removeFile(a.Root.Path(act.Target))
	}
	return nil, fmt.Errorf("unknown action %q", act.Kind)
}

func (a *Applier) systemctl(ctx context.Context, args ...string) error {
	_, err := a.Run.Run(ctx, "systemctl", args...)
	return err
}

func (a *Applier) removeUnit(ctx context.Context, unit string) error {
	err := a.systemctl(ctx, "disable", unit)
	_ = a.systemctl(ctx, "reset-failed", unit) // fails when the unit never failed
	for _, f := range []string{unit, unit + ".env"} {
		err = errors.Join(err, removeFile(a.Root.Path(UnitDir+"/"+f)))
	}
	return err
}

// restoreRules loads the filtered dump through a root-only file: the
// Runner passes no stdin, and the dump is the node's whole policy.
func (a *Applier) restoreRules(ctx context.Context, family, rules string) error {
	dir, err := os.MkdirTemp(a.Root.Path("/run"), "nodeagent-uninstall-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, family+".rules")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		return err
	}
	_, err = a.Run.Run(ctx, family+"-restore", file)
	return err
}

func (a *Applier) undoFirewall(ctx context.Context) ([]string, error) {
	if a.Firewall == nil {
		return []string{"ufw: nodeagent's rules not undone (no firewall given)"}, nil
	}
	done, left, err := a.Firewall(ctx)
	for _, d := range done {
		a.Log.Info("ufw change undone", zap.String("change", d))
	}
	return left, err
}

func (a *Applier) moveAside(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(a.Root.Path(to)), 0o700); err != nil {
		return err
	}
	if err := os.Rename(a.Root.Path(from), a.Root.Path(to)); err != nil {
		return err
	}
	return os.Chmod(a.Root.Path(to), 0o700)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeTree removes the tree at hostPath but never what lies on another
// filesystem: a mount point below it (by the mount table read now, or by
// a device that differs from its parent's) stays with what is on it, and
// the directories above it stay too. It returns what it left.
func (a *Applier) removeTree(hostPath string) ([]string, error) {
	mounts, err := mountPoints(a.Root)
	if err != nil {
		return nil, err
	}
	mounted := map[string]bool{}
	for _, m := range mounts {
		mounted[a.Root.Path(m)] = true
	}
	top := a.Root.Path(hostPath)
	fi, err := os.Lstat(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var left []string
	_, err = removeBelow(top, fi, mounted, &left)
	for i, l := range left {
		left[i] = strings.TrimPrefix(l, strings.TrimSuffix(a.Root.Prefix(), "/")) + ": another filesystem is mounted there; it and what is on it stay"
	}
	return left, err
}

// removeBelow removes path and reports whether it kept some of it.
func removeBelow(path string, fi fs.FileInfo, mounted map[string]bool, left *[]string) (bool, error) {
	if !fi.IsDir() {
		return false, removeFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return true, err
	}
	dev := deviceOf(fi)
	kept := false
	var errs []error
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		cfi, err := os.Lstat(child)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cfi.IsDir() && (mounted[child] || deviceOf(cfi) != dev) {
			*left = append(*left, child)
			kept = true
			continue
		}
		k, err := removeBelow(child, cfi, mounted, left)
		kept = kept || k
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); kept || err != nil {
		return true, err
	}
	return false, removeFile(path)
}

func deviceOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}
