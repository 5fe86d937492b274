package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// Units installs and enables systemd units; internal/systemd implements it.
// Both methods report whether they changed anything, so a converged node
// writes nothing.
type Units interface {
	InstallUnit(ctx context.Context, name string, content []byte) (changed bool, err error)
	Enable(ctx context.Context, name string) (changed bool, err error)
}

// Manager observes and prepares the data disks of one node.
type Manager struct {
	root   host.Root
	run    host.Runner
	units  Units
	clock  host.Clock
	log    *zap.Logger
	rescan time.Duration
}

// DefaultRescan is the safety-net rescan of Watch, for hosts where uevents
// are lost (a full socket buffer) or unavailable.
const DefaultRescan = time.Minute

// NewManager returns a Manager. units may be nil on a host without systemd:
// the disk is then mounted now but not persistently.
func NewManager(root host.Root, run host.Runner, units Units, clock host.Clock, log *zap.Logger) *Manager {
	return &Manager{root: root, run: run, units: units, clock: clock,
		log: log.With(zap.String("component", "disk")), rescan: DefaultRescan}
}

// Result is what Ensure found and did.
type Result struct {
	Device    Device `json:"device"`
	Action    string `json:"action"`
	Formatted bool   `json:"formatted,omitempty"`
	Mounted   bool   `json:"mounted,omitempty"`
	UnitNew   bool   `json:"unitChanged,omitempty"`
	Dirs      int    `json:"dirsChanged,omitempty"`
}

// Ensure brings one disk to its desired state: found, mounted at its mount
// point (now and at boot) and carrying its directories. It returns an error
// wrapping ErrNotFound when no device matches yet — then nothing at all has
// been written, the mount point included — and one of the named refusals of
// Decide when the device is not safe to use.
func (m *Manager) Ensure(ctx context.Context, d config.Disk) (Result, error) {
	log := m.log.With(zap.String("mountPoint", d.MountPoint))
	dec, err := m.decide(ctx, d)
	if err != nil {
		return Result{}, fmt.Errorf("preparing disk for %s: %w", d.MountPoint, err)
	}
	res := Result{Device: dec.Device, Action: dec.Action.String()}
	if dec.Action == ActFormatMount {
		if res.Device, err = m.format(ctx, d, dec.Device); err != nil {
			return res, err
		}
		res.Formatted = true
	}
	if res.UnitNew, err = m.persist(ctx, d, res.Device); err != nil {
		return res, err
	}
	if dec.Action == ActNone {
		log.Info("already mounted", zap.String("device", res.Device.Path))
	} else if err := m.mountNow(ctx, d, res.Device); err != nil {
		return res, err
	} else {
		res.Mounted = true
	}
	// The kernel's mount table, read again, is the only permission to write
	// below the mount point.
	if err := m.verifyMounted(d, res.Device); err != nil {
		return res, err
	}
	res.Dirs, err = m.ensureDirs(d)
	return res, err
}

func (m *Manager) decide(ctx context.Context, d config.Disk) (Decision, error) {
	devs, err := Scan(ctx, m.root, m.run)
	if err != nil {
		return Decision{}, err
	}
	for _, dev := range devs {
		if dev.ProbeError != "" {
			m.log.Debug("device not probed", zap.String("device", dev.Path), zap.String("error", dev.ProbeError))
		}
	}
	mounts, err := ReadMounts(m.root)
	if err != nil {
		return Decision{}, err
	}
	return Decide(d, devs, mounts)
}

// format probes the device once more right before mkfs, so a signature that
// appeared since the scan still stops it, then re-reads the new UUID.
func (m *Manager) format(ctx context.Context, d config.Disk, dev Device) (Device, error) {
	fresh := Device{Name: dev.Name, Path: dev.Path, MajMin: dev.MajMin}
	if err := probe(ctx, m.root, m.run, &fresh); err != nil {
		return dev, err
	}
	if sig := fresh.Signature(); sig != "" {
		return dev, fmt.Errorf("formatting %s: %w: it now has %s", dev.Path, ErrHasSignature, sig)
	}
	args := MkfsArgs(d, dev.Path)
	m.log.Info("formatting blank device", zap.String("device", dev.Path), zap.String("fsType", d.FSType))
	if _, err := m.run.Run(ctx, args[0], args[1:]...); err != nil {
		return dev, fmt.Errorf("formatting %s as %s: %w", dev.Path, d.FSType, err)
	}
	if err := probe(ctx, m.root, m.run, &fresh); err != nil {
		return dev, err
	}
	if fresh.Type != d.FSType || fresh.UUID == "" {
		return dev, fmt.Errorf("formatting %s: blkid sees %q afterwards, wanted %s", dev.Path, fresh.Signature(), d.FSType)
	}
	dev.Type, dev.UUID, dev.Label = fresh.Type, fresh.UUID, fresh.Label
	return dev, nil
}

// persist writes and enables the mount unit so the disk comes back at boot.
func (m *Manager) persist(ctx context.Context, d config.Disk, dev Device) (bool, error) {
	if m.units == nil {
		return false, nil
	}
	name := UnitName(d.MountPoint)
	changed, err := m.units.InstallUnit(ctx, name, UnitContent(d, dev.UUID))
	if err != nil {
		return false, fmt.Errorf("installing %s: %w", name, err)
	}
	enabled, err := m.units.Enable(ctx, name)
	if err != nil {
		return changed, fmt.Errorf("enabling %s: %w", name, err)
	}
	if changed || enabled {
		m.log.Info("mount unit installed", zap.String("unit", name), zap.Bool("enabled", enabled))
	}
	return changed || enabled, nil
}

// mountNow mounts with mount(8) rather than starting the unit, so it works
// without systemd; systemd follows mountinfo and shows the unit active.
func (m *Manager) mountNow(ctx context.Context, d config.Disk, dev Device) error {
	dir := m.root.Path(d.MountPoint)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating mount point %s: %w", d.MountPoint, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		// Something wrote to the SD card while the disk was away (a hostPath
		// pod before nodeagent ran); the mount hides it, it is not deleted.
		m.log.Warn("mount point not empty, its files will be hidden by the mount",
			zap.String("mountPoint", d.MountPoint), zap.Int("entries", len(entries)))
	}
	args := MountArgs(d, dev.Path)
	if _, err := m.run.Run(ctx, args[0], args[1:]...); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", dev.Path, d.MountPoint, err)
	}
	m.log.Info("mounted", zap.String("device", dev.Path), zap.String("uuid", dev.UUID))
	return nil
}

// MountArgs is the mount(8) command line for d.
func MountArgs(d config.Disk, dev string) []string {
	return []string{"mount", "-t", d.FSType, "-o", strings.Join(MountOptions(d), ","), dev, path.Clean(d.MountPoint)}
}

func (m *Manager) verifyMounted(d config.Disk, dev Device) error {
	mounts, err := ReadMounts(m.root)
	if err != nil {
		return err
	}
	if top, ok := At(mounts, d.MountPoint); !ok || !top.IsDevice(dev) {
		return fmt.Errorf("checking %s: %w (%s expected)", d.MountPoint, ErrNotMounted, dev.Path)
	}
	return nil
}

func (m *Manager) ensureDirs(d config.Disk) (int, error) {
	base := m.root.Path(d.MountPoint)
	changes, err := DiffDirs(base, d.Directories)
	if err != nil {
		return 0, fmt.Errorf("directories on %s: %w", d.MountPoint, err)
	}
	for _, c := range changes {
		m.log.Info("fixing directory", zap.String("dir", c.describe()))
	}
	if err := ApplyDirs(base, changes); err != nil {
		return 0, fmt.Errorf("directories on %s: %w", d.MountPoint, err)
	}
	return len(changes), nil
}

// IsNotFound reports whether err means the disk is simply not there yet.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
