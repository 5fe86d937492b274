package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/nodereport"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// kubeServer is the real kube-apiserver shared by this package's tests
// that write to a Node.
var kubeServer apiserver.Shared

func TestMain(m *testing.M) { os.Exit(kubeServer.Main(m)) }

// reportFixture is a Node registered as the kubelet would (with its Ready
// condition) and a nodeReport writing to it.
type reportFixture struct {
	client kubernetes.Interface
	node   string
	w      *nodereport.Writer
	report *nodeReport
}

func newReportFixture(t *testing.T, ctx context.Context) *reportFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	srv := kubeServer.Get(t)
	client := srv.Client()
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "pi5-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node: %v", err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting the kubelet's Ready condition: %v", err)
	}
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	w := nodereport.New(func() (dynamic.Interface, error) { return dyn, nil }, n.Name, host.RealClock{}, zaptest.NewLogger(t))
	go w.Run(ctx)
	return &reportFixture{client: client, node: n.Name, w: w, report: newNodeReport(w, n.Name)}
}

// condition polls until the Node's conditions satisfy ok, and returns them.
func (f *reportFixture) conditions(t *testing.T, ctx context.Context, what string, ok func(map[corev1.NodeConditionType]corev1.NodeCondition) bool) map[corev1.NodeConditionType]corev1.NodeCondition {
	t.Helper()
	var got map[corev1.NodeConditionType]corev1.NodeCondition
	poll(t, ctx, what, func() bool {
		n, err := f.client.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading node: %v", err)
		}
		got = map[corev1.NodeConditionType]corev1.NodeCondition{}
		for _, c := range n.Status.Conditions {
			got[c.Type] = c
		}
		return ok(got)
	}, func() any { return got })
	return got
}

// events lists the Events about the fixture's Node, by reason.
func (f *reportFixture) events(t *testing.T, ctx context.Context) map[string][]corev1.Event {
	t.Helper()
	list, err := f.client.CoreV1().Events(nodereport.EventNamespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Node,involvedObject.name=" + f.node})
	if err != nil {
		t.Fatalf("listing events: %v", err)
	}
	out := map[string][]corev1.Event{}
	for _, e := range list.Items {
		out[e.Reason] = append(out[e.Reason], e)
	}
	return out
}

// settle records a last, distinct Event and waits for that one (an earlier
// settle's is there already): the writer writes in order, so every Event
// recorded before is written by then.
func (f *reportFixture) settle(t *testing.T, ctx context.Context) {
	t.Helper()
	msg := time.Now().String()
	f.w.Record(nodereport.Event{Reason: "TestSettled", Message: msg})
	poll(t, ctx, "the settle event", func() bool {
		return slices.ContainsFunc(f.events(t, ctx)["TestSettled"], func(e corev1.Event) bool { return e.Message == msg })
	}, func() any { return f.events(t, ctx) })
}

func poll(t *testing.T, ctx context.Context, what string, ok func() bool, last func() any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s: last seen %+v", what, last())
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The condition follows pi5's disk through the real disk step: missing
// (its device gone from sysfs), then back (mounted on /mnt/hd1); the
// kubelet's Ready condition is never touched, and a pass that changes
// nothing writes nothing.
func TestNodeConditionFollowsTheDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newReportFixture(t, ctx)
	root, run := piBlockDevices(t, false)
	writeMountInfo(t, root, "")
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := cfg.Node("pi5")
	n.Disks[0].Selector = config.DiskSelector{Label: "hd1"}
	n.Disks[0].DeviceTimeout.Duration = 100 * time.Millisecond
	a := New(Deps{Log: zaptest.NewLogger(t), File: cfg, Node: n, Root: root, Runner: run, Clock: host.RealClock{}, Reporter: &TerminalReporter{W: os.Stderr}})
	t.Cleanup(a.Close)
	a.report = f.report

	unplugDisks(t, root)
	a.report.passEnded(runDiskPass(ctx, a))
	got := f.conditions(t, ctx, "NodeagentReady False", func(c map[corev1.NodeConditionType]corev1.NodeCondition) bool {
		return c[kube.ConditionType].Status == corev1.ConditionFalse
	})
	if c := got[kube.ConditionType]; c.Reason != "DiskMissing" || c.Message != "/mnt/hd1: waited 100ms: no block device matches label=hd1" {
		t.Errorf("condition = %s %q, want DiskMissing with the disk step's error", c.Reason, c.Message)
	}
	if got[corev1.NodeReady].Reason != "KubeletReady" {
		t.Errorf("the kubelet's Ready condition is gone or changed: %+v", got)
	}

	writes := f.w.Writes()
	a.report.passEnded(runDiskPass(ctx, a)) // the same outcome again
	f.settle(t, ctx)
	if extra := f.w.Writes() - writes; extra != 1 { // the settle event only
		t.Errorf("an unchanged pass made %d API writes besides the settle event, want none", extra-1)
	}

	plugDisks(t, root)
	writeMountInfo(t, root, "100 1 8:1 / /mnt/hd1 rw,noatime - ext4 /dev/sda1 rw\n")
	mkdir(t, root.Path("/mnt/hd1")) // the root of the mounted filesystem
	a.report.passEnded(runDiskPass(ctx, a))
	got = f.conditions(t, ctx, "NodeagentReady True", func(c map[corev1.NodeConditionType]corev1.NodeCondition) bool {
		return c[kube.ConditionType].Status == corev1.ConditionTrue
	})
	if c := got[kube.ConditionType]; c.Reason != "Provisioned" {
		t.Errorf("condition = %s %q, want Provisioned", c.Reason, c.Message)
	}
	if got[corev1.NodeReady].Reason != "KubeletReady" {
		t.Errorf("the kubelet's Ready condition is gone or changed: %+v", got)
	}

	// Pulled again after it was mounted: lost, one Event says so.
	unplugDisks(t, root)
	a.report.passEnded(runDiskPass(ctx, a))
	f.conditions(t, ctx, "NodeagentReady False again", func(c map[corev1.NodeConditionType]corev1.NodeCondition) bool {
		return c[kube.ConditionType].Reason == "DiskMissing"
	})
	f.settle(t, ctx)
	lost := f.events(t, ctx)[kube.ReasonDiskLost]
	if len(lost) != 1 || lost[0].Message != "lost the disk of /mnt/hd1: waited 100ms: no block device matches label=hd1" || lost[0].Type != "Warning" {
		t.Errorf("DiskLost events = %+v, want one Warning naming /mnt/hd1", lost)
	}
}

// runDiskPass runs the disk step as a pass does, through runStep.
func runDiskPass(ctx context.Context, a *Agent) error {
	return a.runStep(ctx, diskStep{a})
}

func writeMountInfo(t *testing.T, root host.Root, extra string) {
	t.Helper()
	path := root.Path("/proc/self/mountinfo")
	mkdir(t, filepath.Dir(path))
	line := "1 0 179:2 / / rw,noatime - ext4 /dev/mmcblk0p2 rw\n"
	if err := os.WriteFile(path, []byte(line+extra), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unplugDisks empties /sys/class/block as a pulled USB disk does;
// plugDisks brings the devices back.
func unplugDisks(t *testing.T, root host.Root) {
	t.Helper()
	class := root.Path("/sys/class/block")
	if err := os.Rename(class, class+".away"); err != nil {
		t.Fatal(err)
	}
	mkdir(t, class)
}

func plugDisks(t *testing.T, root host.Root) {
	t.Helper()
	class := root.Path("/sys/class/block")
	if err := os.Remove(class); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(class+".away", class); err != nil {
		t.Fatal(err)
	}
}

var zigbeeRule = config.USBRule{Name: "zigbee", Labels: map[string]string{"zigbee": "true"},
	Match: []config.USBMatch{{VendorID: "10c4", ProductID: "ea60", Description: "Sonoff ZBDongle-P"}}}

var zigbeeStick = usb.Device{Name: "1-1.3", VendorID: "10c4", ProductID: "ea60", Product: "Sonoff Zigbee 3.0 USB Dongle Plus"}

// scanned is what the USB watcher reports with the stick plugged or not.
func scanned(plugged bool) usb.Result {
	var devs []usb.Device
	if plugged {
		devs = append(devs, zigbeeStick)
	}
	return usb.Match(devs, []config.USBRule{zigbeeRule})
}

// A plug and an unplug are one Event each, naming the device and its
// label; the devices found at start are no Event.
func TestNodeEventsOnePerPlugAndUnplug(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newReportFixture(t, ctx)
	rules := []config.USBRule{zigbeeRule}
	f.report.usbScanned(scanned(false), rules) // the watcher's first scan
	f.report.usbScanned(scanned(true), rules)
	f.report.usbScanned(scanned(false), rules)
	f.settle(t, ctx)

	ev := f.events(t, ctx)
	want := map[string]string{
		kube.ReasonDevicePlugged:   "plugged: Sonoff ZBDongle-P (10c4:ea60) at USB port 1-1.3, rule zigbee (label zigbee=true)",
		kube.ReasonDeviceUnplugged: "unplugged: Sonoff ZBDongle-P (10c4:ea60) at USB port 1-1.3, rule zigbee (label zigbee=true)",
	}
	for reason, msg := range want {
		got := ev[reason]
		if len(got) != 1 || got[0].Message != msg || got[0].Count != 1 {
			t.Errorf("%s events = %+v, want one with count 1 and message %q", reason, got, msg)
			continue
		}
		e := got[0]
		if e.Source.Component != "nodeagent" || e.Source.Host != f.node || e.ReportingController != "nodeagent" || e.InvolvedObject.Kind != "Node" || e.InvolvedObject.UID == "" {
			t.Errorf("%s event source/involvedObject = %+v / %+v / %q", reason, e.Source, e.InvolvedObject, e.ReportingController)
		}
	}
	if len(ev) != 3 {
		t.Errorf("events by reason = %v, want DevicePlugged, DeviceUnplugged and the settle event", keysOf(ev))
	}
}

// 20 flaps of a stick within 2 s are one Event per reason with its count
// bumped, and no more than the burst of the rate limit.
func TestNodeEventsFlappingStickIsRateLimited(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newReportFixture(t, ctx)
	rules := []config.USBRule{zigbeeRule}
	f.report.usbScanned(scanned(false), rules)
	start := time.Now()
	for i := range 20 {
		f.report.usbScanned(scanned(i%2 == 0), rules)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the flaps took %s, want them within 2 s", d)
	}
	f.settle(t, ctx)

	ev := f.events(t, ctx)
	for _, reason := range []string{kube.ReasonDevicePlugged, kube.ReasonDeviceUnplugged} {
		got := ev[reason]
		if len(got) != 1 || got[0].Count != 5 {
			counts := []int32{}
			for _, e := range got {
				counts = append(counts, e.Count)
			}
			t.Errorf("%s: %d Event objects with counts %v, want 1 with count 5 (the burst)", reason, len(got), counts)
		}
	}
}

func keysOf(m map[string][]corev1.Event) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
