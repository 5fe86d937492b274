package backups

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// SnapshotDir is where k3s writes etcd snapshots by default
// (etcd-snapshot-dir: ${data-dir}/server/db/snapshots).
const SnapshotDir = "/var/lib/rancher/k3s/server/db/snapshots"

// EtcdCopiesDir is the subdirectory of the backups directory that holds the
// snapshot copies; nodeagent prunes nothing outside it.
const EtcdCopiesDir = "etcd-snapshots"

// Etcd copies one server's k3s snapshots to the backups directory.
type Etcd struct {
	// SnapshotDir is k3s's snapshot directory (resolved under the root).
	SnapshotDir string
	// MountPoint is the mount point of the disk that holds Dir.
	MountPoint string
	// Dir is the backups directory; the copies go to Dir/etcd-snapshots.
	Dir string
	// Retention is k3s's etcd-snapshot-retention: how many snapshots of
	// each kind (scheduled, on-demand) are kept, on the HDD as on the SD.
	Retention int
}

// ForNode is the snapshot copier of node n when the cluster file makes it
// the backups node (a server holding backups.dir on one of its disks);
// ok is false on every other node.
func ForNode(root host.Root, c *config.Cluster, n config.Node) (e Etcd, ok bool) {
	if !c.Backups.Enabled() || c.Backups.Node != n.Name || n.Role != config.RoleServer {
		return Etcd{}, false
	}
	d, ok := n.DiskHolding(c.Backups.Dir)
	if !ok {
		return Etcd{}, false // refused by validate: never the SD card
	}
	return Etcd{
		SnapshotDir: root.Path(SnapshotDir),
		MountPoint:  root.Path(d.MountPoint),
		Dir:         root.Path(c.Backups.Dir),
		Retention:   c.K3s.EtcdSnapshots.Retention,
	}, true
}

// CopiesDir is where the copies are.
func (e Etcd) CopiesDir() string { return filepath.Join(e.Dir, EtcdCopiesDir) }

// SyncResult is what a Sync did.
type SyncResult struct {
	Copied, Pruned []string
	// NotMounted: the disk is not mounted, so nothing was written.
	NotMounted bool
}

// Snapshot is one snapshot file, local or copied.
type Snapshot struct {
	Name string
	Size int64
	// Taken is the Unix time k3s put in the name.
	Taken int64
	// kind is the name without "-<unix time>": etcd-snapshot-<node> for
	// scheduled snapshots, on-demand-<node> (or --name's) for the others;
	// retention counts within a kind, as k3s does.
	kind string
}

// snapshotName is k3s's "<name>-<node>-<unix seconds>", optionally zipped
// (etcd-snapshot-compress). Partial files (etcd writes "<path>.part" and
// renames it) and anything else do not match.
var snapshotName = regexp.MustCompile(`^(.+)-([0-9]{9,})(\.zip)?$`)

// ListSnapshots lists the snapshot files of dir, newest first; a missing
// dir has none.
func ListSnapshots(dir string) ([]Snapshot, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, ent := range entries {
		m := snapshotName.FindStringSubmatch(ent.Name())
		if m == nil || !ent.Type().IsRegular() {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			continue // gone since ReadDir: pruned by k3s
		}
		taken, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, Snapshot{Name: ent.Name(), Size: info.Size(), Taken: taken, kind: m[1]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Taken != out[j].Taken {
			return out[i].Taken > out[j].Taken
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Sync brings the copies in step with k3s's snapshots: every snapshot
// within retention that has no copy yet is copied, and copies beyond
// retention are pruned. Retention counts local snapshots and copies
// together, so a copy pruned here is never copied again. Without the disk
// mounted it writes nothing and says so.
func (e Etcd) Sync() (SyncResult, error) {
	var res SyncResult
	dev, mounted, err := mountedDevice(e.MountPoint)
	if err != nil {
		return res, err
	}
	if !mounted {
		res.NotMounted = true
		return res, nil
	}
	local, err := ListSnapshots(e.SnapshotDir)
	if err != nil {
		return res, fmt.Errorf("listing the etcd snapshots: %w", err)
	}
	if err := e.makeCopiesDir(dev); err != nil {
		return res, err
	}
	copies, err := ListSnapshots(e.CopiesDir())
	if err != nil {
		return res, fmt.Errorf("listing the snapshot copies: %w", err)
	}
	keep := e.kept(local, copies)
	have := map[string]int64{}
	for _, c := range copies {
		have[c.Name] = c.Size
	}
	for _, s := range local {
		if !keep[s.Name] {
			continue
		}
		if size, ok := have[s.Name]; ok && size == s.Size {
			continue
		}
		if err := e.copyOne(s.Name, dev); err != nil {
			return res, err
		}
		res.Copied = append(res.Copied, s.Name)
	}
	for _, c := range copies {
		if keep[c.Name] {
			continue
		}
		if err := os.Remove(filepath.Join(e.CopiesDir(), c.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("pruning snapshot copy: %w", err)
		}
		res.Pruned = append(res.Pruned, c.Name)
	}
	return res, nil
}

// kept names the newest Retention snapshots of each kind among the local
// ones and the copies.
func (e Etcd) kept(local, copies []Snapshot) map[string]bool {
	all := map[string]Snapshot{}
	for _, s := range append(append([]Snapshot(nil), local...), copies...) {
		all[s.Name] = s
	}
	byKind := map[string][]Snapshot{}
	for _, s := range all {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	keep := map[string]bool{}
	retention := max(e.Retention, 1)
	for _, list := range byKind {
		sort.Slice(list, func(i, j int) bool { return list[i].Taken > list[j].Taken })
		for i := 0; i < len(list) && i < retention; i++ {
			keep[list[i].Name] = true
		}
	}
	return keep
}

// makeCopiesDir creates Dir/etcd-snapshots (0700: a snapshot holds every
// Secret of the cluster) and checks it is on the mounted disk.
func (e Etcd) makeCopiesDir(dev uint64) error {
	dir := e.CopiesDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the snapshot copy directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("creating the snapshot copy directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("creating the snapshot copy directory: %w", err)
	}
	if uint64(st.Dev) != dev {
		return fmt.Errorf("%s is not on the disk mounted at %s; copying nothing", dir, e.MountPoint)
	}
	return nil
}

// copyOne copies a snapshot through a hidden temporary file that gets its
// name only once it is whole, synced and checked to be on the disk: if the
// disk went away mid-copy, the file is not kept on the SD card.
func (e Etcd) copyOne(name string, dev uint64) (err error) {
	src, err := os.Open(filepath.Join(e.SnapshotDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // pruned by k3s since the listing
	}
	if err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(e.CopiesDir(), "."+name+".part-*")
	if err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(tmp.Fd()), &st); err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	if uint64(st.Dev) != dev {
		return fmt.Errorf("copying snapshot %s: the copy is not on the disk mounted at %s (unmounted meanwhile?); dropped", name, e.MountPoint)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(e.CopiesDir(), name)); err != nil {
		return fmt.Errorf("copying snapshot %s: %w", name, err)
	}
	return syncDir(e.CopiesDir())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// mountedDevice reports whether a file system is mounted at mountPoint
// (its device differs from its parent's, the kernel's own test for a mount
// point) and its device number. A missing mount point is not mounted.
func mountedDevice(mountPoint string) (dev uint64, mounted bool, err error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(mountPoint, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("checking the mount at %s: %w", mountPoint, err)
	}
	if err := unix.Stat(filepath.Dir(filepath.Clean(mountPoint)), &parent); err != nil {
		return 0, false, fmt.Errorf("checking the mount at %s: %w", mountPoint, err)
	}
	return uint64(st.Dev), st.Dev != parent.Dev, nil
}
