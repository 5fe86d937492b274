package agent

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// kubeconfig is the kubeconfig this node's work on its own Node uses (see
// kube.NodeKubeconfig), relative to the host root.
func (a *Agent) kubeconfig() string { return kube.NodeKubeconfig(a.Node.Role == config.RoleServer) }

// kubeClient connects with the kubeconfig k3s writes, once it exists. The
// agent reads and writes the Node's metadata only.
func (a *Agent) kubeClient() (metadata.Interface, error) {
	if a.client != nil {
		return a.client, nil
	}
	c, err := kube.NewMetadataClient(a.Root.Path(a.kubeconfig()))
	if err != nil {
		return nil, err
	}
	a.client = c
	return c, nil
}

// desiredLabels merges what the node should carry now: static labels, the
// labels of mounted disks, and those of plugged USB devices (usbResult).
func (a *Agent) desiredLabels(ctx context.Context, usbResult usb.Result) (kube.Desired, error) {
	parts := []kube.Desired{{Labels: a.Node.Labels}}
	for _, d := range a.Node.Disks {
		st, err := a.disks.Mounted(ctx, d)
		if err != nil {
			return kube.Desired{}, fmt.Errorf("checking %s: %w", d.MountPoint, err)
		}
		if st.Vanished {
			a.log.Warn("disk vanished while mounted: withdrawing its labels", zap.String("mountPoint", d.MountPoint))
			a.report.diskMissing(d.MountPoint, "the device vanished while mounted")
		}
		parts = append(parts, kube.Desired{Labels: disk.Labels(d, st)})
	}
	parts = append(parts, kube.Desired{Labels: usbResult.Labels, Annotations: usbResult.Annotations})
	want, conflicts := kube.Merge(parts...)
	for _, c := range conflicts {
		a.log.Warn("two sources want different values for one label", zap.Any("conflict", c))
	}
	return want, nil
}

// scanUSB matches the devices plugged in now.
func (a *Agent) scanUSB() (usb.Result, error) {
	devs, err := usb.Scan(a.USBRoot)
	if err != nil {
		return usb.Result{}, err
	}
	return usb.Match(devs, a.cluster().USBRules()), nil
}

// reconcileLabelsOnce scans USB and disks and writes the owned labels.
func (a *Agent) reconcileLabelsOnce(ctx context.Context) error {
	res, err := a.scanUSB()
	if err != nil {
		return err
	}
	return a.reconcileLabels(ctx, res)
}

func (a *Agent) reconcileLabels(ctx context.Context, usbResult usb.Result) error {
	want, err := a.desiredLabels(ctx, usbResult)
	if err != nil {
		return err
	}
	client, err := a.kubeClient()
	if err != nil {
		return err
	}
	report, err := kube.NewLabelReconciler(client, a.log).Reconcile(ctx, a.Node.Name, want)
	if err != nil {
		return fmt.Errorf("updating labels of %s: %w", a.Node.Name, err)
	}
	if report.Written {
		a.log.Info("labels updated", zap.Any("changes", report.Changes))
	}
	for _, c := range report.Conflicts {
		a.log.Warn("label set by hand differs: left alone", zap.Any("conflict", c))
	}
	return nil
}

// liveNode reads this node's metadata from the API, with a short timeout
// (plan and status must not hang on an API that is down).
func (a *Agent) liveNode(ctx context.Context) (*metav1.PartialObjectMetadata, error) {
	client, err := a.kubeClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return kube.GetNode(ctx, client, a.Node.Name)
}
