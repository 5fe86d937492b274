package agent

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/nodereport"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// diskEnsured records the outcome of mounting the disk of mountPoint: err
// nil when it is mounted now, a not-found error when its device is absent.
// Other errors are the pass's failure and reported with it.
func (r *nodeReport) diskEnsured(mountPoint string, res disk.Result, err error) {
	if r == nil {
		return
	}
	switch {
	case err == nil:
		r.diskPresent(mountPoint, res)
	case disk.IsNotFound(err):
		r.diskMissing(mountPoint, err.Error())
	}
}

func (r *nodeReport) diskPresent(mountPoint string, res disk.Result) {
	r.mu.Lock()
	delete(r.missing, mountPoint)
	r.present[mountPoint] = true
	r.mu.Unlock()
	r.update()
	if res.Mounted {
		r.w.Record(nodereport.Event{Reason: kube.ReasonDiskMounted, Message: fmt.Sprintf("mounted %s on %s", res.Device.Path, mountPoint)})
	}
}

// diskMissing marks the disk of mountPoint missing for why; a disk that was
// mounted before is lost (an Event says so).
func (r *nodeReport) diskMissing(mountPoint, why string) {
	if r == nil {
		return
	}
	msg := mountPoint + ": " + why
	r.mu.Lock()
	lost := r.present[mountPoint]
	delete(r.present, mountPoint)
	r.missing[mountPoint] = msg
	r.mu.Unlock()
	r.update()
	if lost {
		r.w.Record(nodereport.Event{Warning: true, Reason: kube.ReasonDiskLost, Message: "lost the disk of " + msg})
	}
}

// usbScanned records the devices matched now. The first scan only sets
// what is plugged; each later one records an Event per device plugged or
// unplugged since.
func (r *nodeReport) usbScanned(res usb.Result, rules []config.USBRule) {
	if r == nil {
		return
	}
	now := map[string]usb.RuleMatch{}
	for _, m := range res.Matches {
		now[m.Rule+" "+m.Device.Name+" "+m.Device.ID()] = m
	}
	r.mu.Lock()
	before, seen := r.usb, r.usbSeen
	r.usb, r.usbSeen = now, true
	r.mu.Unlock()
	if !seen {
		return
	}
	labels := map[string]string{}
	for _, rule := range rules {
		labels[rule.Name] = labelList(rule.Labels)
	}
	for _, k := range sortedKeys(now) {
		if _, ok := before[k]; !ok {
			r.w.Record(nodereport.Event{Reason: kube.ReasonDevicePlugged, Message: "plugged: " + describeMatch(now[k], labels)})
		}
	}
	for _, k := range sortedKeys(before) {
		if _, ok := now[k]; !ok {
			r.w.Record(nodereport.Event{Warning: true, Reason: kube.ReasonDeviceUnplugged, Message: "unplugged: " + describeMatch(before[k], labels)})
		}
	}
}

// describeMatch names the device, its port, its rule and the labels the
// rule sets: "Sonoff ZBDongle-P (10c4:ea60) at USB port 1-1.3, rule zigbee
// (label zigbee=true)".
func describeMatch(m usb.RuleMatch, labels map[string]string) string {
	what := strings.TrimSpace(m.Description)
	if what == "" {
		what = "device"
	}
	return fmt.Sprintf("%s (%s) at USB port %s, rule %s (label %s)", what, m.Device.ID(), m.Device.Name, m.Rule, labels[m.Rule])
}

// labelList is "k=v" of each label, sorted.
func labelList(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func sortedKeys(m map[string]usb.RuleMatch) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
