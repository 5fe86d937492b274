package agent

import (
	"context"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// usbSettings is what the USB watcher is built from; a reload of the cluster
// file sends new ones, so a rule added later is watched without a restart.
type usbSettings struct {
	rules []config.USBRule
	opts  usb.Options
}

func usbSettingsOf(c *config.Cluster) usbSettings {
	return usbSettings{rules: c.USBRules(), opts: usb.OptionsFrom(c.USB)}
}

// watchUSB runs a USB watcher that queues a labels pass on every change,
// and replaces it whenever updates delivers new settings.
func (a *Agent) watchUSB(ctx context.Context, q *queue, s usbSettings, updates <-chan usbSettings) error {
	for {
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		w := usb.NewWatcher(a.USBRoot, s.rules, s.opts, a.Clock, a.log)
		go func() {
			done <- w.Run(wctx, func(r usb.Result) { a.hotplug.changed(r.EventAt); a.report.usbScanned(r, s.rules); q.add(workLabels) })
		}()
		select {
		case s = <-updates:
			stop()
			<-done
		case err := <-done:
			stop()
			return err
		}
	}
}

// offerUSBSettings hands new settings to the watcher without blocking the
// worker: a newer offer replaces one not taken yet.
func offerUSBSettings(ch chan usbSettings, s usbSettings) {
	select {
	case <-ch:
	default:
	}
	ch <- s
}
