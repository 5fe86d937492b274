package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// diskStep finds, mounts and lays out the node's data disks.
type diskStep struct{ a *Agent }

func (diskStep) Name() string    { return StepDisk }
func (s diskStep) Applies() bool { return len(s.a.Node.Disks) > 0 }

// Apply waits for each disk up to its deviceTimeout and mounts it. A disk
// that has not appeared is not an error: the daemon mounts it when it does,
// and until then its labels stay off so no pod writes to the SD card.
func (s diskStep) Apply(ctx context.Context) error {
	a := s.a
	for _, d := range a.Node.Disks {
		a.Reporter.Status(fmt.Sprintf("waiting up to %s for the disk of %s", d.DeviceTimeout.Duration, d.MountPoint))
		if _, err := a.disks.WaitFor(ctx, d, disk.WatchConfig{}); err != nil {
			if disk.IsNotFound(err) || errors.Is(err, context.DeadlineExceeded) {
				a.log.Warn("disk not present: continuing without it", zap.String("mountPoint", d.MountPoint), zap.Error(err))
				a.report.diskMissing(d.MountPoint, err.Error())
				continue
			}
			return err
		}
		res, err := a.disks.Ensure(ctx, d)
		a.report.diskEnsured(d.MountPoint, res, err)
		if err != nil {
			return fmt.Errorf("preparing %s: %w", d.MountPoint, err)
		}
		a.log.Info("disk ready", zap.String("mountPoint", d.MountPoint), zap.Any("result", res))
	}
	return nil
}

func (s diskStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	if !live {
		return disk.Plan(s.a.Node), nil
	}
	return s.a.disks.PlanNode(ctx, s.a.Node)
}

func (s diskStep) Status(ctx context.Context, r *StatusReport) error {
	ds, err := s.a.disks.NodeStatus(ctx, s.a.Node)
	r.Disks = ds
	return err
}

// Checks warns, for doctor, when a disk selected by label matches a device
// anyone can plug in: while the intended disk is away, a USB stick with the
// same label would be mounted in its place (#22).
func (s diskStep) Checks(ctx context.Context) []preflight.Check {
	var out []preflight.Check
	for _, d := range s.a.Node.Disks {
		if disk.SelectsByLabel(d.Selector) {
			out = append(out, s.labelCheck(ctx, d))
		}
	}
	return out
}

func (s diskStep) labelCheck(ctx context.Context, d config.Disk) preflight.Check {
	c := preflight.Check{Name: "disk-selector " + d.MountPoint, Severity: preflight.SeverityWarning,
		Fix: fmt.Sprintf("select the disk of %s by its filesystem UUID (lsblk -f): selector: {uuid: ...}", d.MountPoint)}
	risks, err := s.a.disks.LabelRisks(ctx, d)
	if err != nil {
		c.Message = fmt.Sprintf("could not list block devices: %v", err)
		return c
	}
	if len(risks) == 0 {
		c.OK = true
		c.Message = fmt.Sprintf("label %q matches no removable or USB device now", d.Selector.Label)
		return c
	}
	var found []string
	for _, r := range risks {
		found = append(found, fmt.Sprintf("%s (%s)", r.Device.Path, r.Why))
	}
	c.Message = fmt.Sprintf("label %q matches %s: any stick labelled %q would be mounted at %s while the disk is away",
		d.Selector.Label, strings.Join(found, ", "), d.Selector.Label, d.MountPoint)
	return c
}
