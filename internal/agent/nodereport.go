package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/nodereport"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// Reasons of the NodeagentReady condition (docs/node-report.md).
const (
	reasonProvisioned       = "Provisioned"
	reasonDiskMissing       = "DiskMissing"
	reasonFirewallDrift     = "FirewallDrift"
	reasonWaitingForQuorum  = "WaitingForQuorum"
	reasonUpgradeInProgress = "UpgradeInProgress"
	reasonReconcileFailed   = "ReconcileFailed"
)

// nodeReport tells the cluster, on this node's Node, how the daemon's
// reconciles go (the NodeagentReady condition) and what happened (Events).
// Only the daemon has one; the methods of a nil *nodeReport do nothing,
// so `nodeagent join` by hand writes neither.
type nodeReport struct {
	w    *nodereport.Writer
	node string

	mu        sync.Mutex
	passDone  bool  // a pass ended since the daemon started
	passErr   error // how the last one ended
	upgrading bool
	missing   map[string]string // mount point → why its disk is missing
	present   map[string]bool   // mount points whose disk was seen mounted
	usb       map[string]usb.RuleMatch
	usbSeen   bool // usb holds the devices of a first scan
}

// startNodeReport starts the writer; it connects once k3s has written the
// node's kubeconfig (an agent's is the kubelet's: the Node authorizer lets
// it patch its own Node's status and create Events).
func (a *Agent) startNodeReport(ctx context.Context, wg *sync.WaitGroup) {
	kubeconfig := a.Root.Path(a.kubeconfig())
	connect := func() (dynamic.Interface, error) {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, nodereport.ErrNoCluster
		}
		cfg, err := kube.RestConfig(kubeconfig)
		if err != nil {
			return nil, err
		}
		return dynamic.NewForConfig(cfg)
	}
	a.report = newNodeReport(nodereport.New(connect, a.Node.Name, a.Clock, a.log), a.Node.Name)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.report.w.Run(ctx)
	}()
}

func newNodeReport(w *nodereport.Writer, node string) *nodeReport {
	return &nodeReport{w: w, node: node, missing: map[string]string{}, present: map[string]bool{}}
}

// passEnded records how a reconcile pass ended: nil when the node is in step.
func (r *nodeReport) passEnded(err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.passDone, r.passErr = true, err
	r.mu.Unlock()
	r.update()
}

// update sets the condition from what is known; nothing before the first
// pass ends, unless a restart turn is under way.
func (r *nodeReport) update() {
	r.mu.Lock()
	c, known := r.condition()
	r.mu.Unlock()
	if known {
		r.w.Set(c)
	}
}

// condition is the pure decision, with r.mu held: an upgrade in progress,
// then a failed pass, then a missing disk, else provisioned.
func (r *nodeReport) condition() (nodereport.Condition, bool) {
	switch {
	case r.upgrading:
		return nodereport.Condition{Reason: reasonUpgradeInProgress, Message: "restarting k3s in this server's turn of a rolling restart"}, true
	case !r.passDone:
		return nodereport.Condition{}, false
	case r.passErr != nil:
		reason, msg := failureReason(r.passErr)
		return nodereport.Condition{Reason: reason, Message: msg}, true
	case len(r.missing) > 0:
		mps := make([]string, 0, len(r.missing))
		for mp := range r.missing {
			mps = append(mps, mp)
		}
		sort.Strings(mps)
		return nodereport.Condition{Reason: reasonDiskMissing, Message: r.missing[mps[0]]}, true
	}
	return nodereport.Condition{OK: true, Reason: reasonProvisioned, Message: "the last reconcile succeeded"}, true
}

// failureReason names a failed pass by its phase: FirewallDrift and
// WaitingForQuorum for those phases, <Phase>Failed for the others; the
// message is the cause, shortened as in STATUS.
func failureReason(err error) (string, string) {
	var pe *PhaseError
	if !errors.As(err, &pe) {
		return reasonReconcileFailed, shorten(err.Error(), maxCause)
	}
	msg := shorten(pe.Err.Error(), maxCause)
	switch pe.Phase {
	case StepFirewall:
		return reasonFirewallDrift, msg
	case StepQuorum:
		return reasonWaitingForQuorum, msg
	}
	return phaseReason(pe.Phase) + "Failed", msg
}

// phaseReason is a phase name in CamelCase ("k3s" → "K3s").
func phaseReason(phase string) string {
	if phase == "" {
		return "Reconcile"
	}
	return strings.ToUpper(phase[:1]) + phase[1:]
}

// restartTurn marks the rolling-restart turn: UpgradeInProgress while this
// server holds it, a K3sRestarted Event when it is handed back.
func (r *nodeReport) restartTurn(holding bool, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.upgrading = holding
	r.mu.Unlock()
	r.update()
	if !holding && err == nil {
		r.w.Record(nodereport.Event{Reason: kube.ReasonK3sRestarted, Message: "k3s restarted in this server's turn of a rolling restart; its etcd member is healthy again"})
	}
}

// firewallApplied records a repair of the firewall when rules had to change
// on a node that had joined (the first install is no repair).
func (r *nodeReport) firewallApplied(root host.Root, changes int) {
	if r == nil || changes == 0 {
		return
	}
	if st, err := LoadState(root); err != nil || !st.Joined {
		return
	}
	r.w.Record(nodereport.Event{Warning: true, Reason: kube.ReasonFirewallRepaired,
		Message: fmt.Sprintf("firewall drift repaired: %d ufw rule changes to match the cluster file", changes)})
}

// manifestsApplied records the apply this server did since start, read
// back from the record the manifests work leaves (another server's apply
// is its own Event).
func (r *nodeReport) manifestsApplied(root host.Root, start time.Time) {
	if r == nil {
		return
	}
	rec, err := child.LoadApplyRecord(root)
	if err != nil || rec == nil || rec.HeldBy != "" || rec.By != r.node || rec.At.Before(start.Truncate(time.Second)) {
		return
	}
	failed := rec.Counts["failed"] + rec.Counts["conflict"]
	r.w.Record(nodereport.Event{Warning: failed > 0 || rec.Error != "", Reason: kube.ReasonManifestsApplied, Message: ManifestsMessage(rec.Objects,
		rec.Counts["created"], rec.Counts["configured"], rec.Counts["unchanged"], failed)})
}

// ManifestsMessage is the message of a ManifestsApplied Event, which
// `nodeagent status --cluster` reads back: keep its format.
func ManifestsMessage(objects, created, updated, unchanged, failed int) string {
	return fmt.Sprintf("applied %d objects: %d created, %d updated, %d unchanged, %d failed", objects, created, updated, unchanged, failed)
}

// staleMemberStatus passes the stale-member work's status lines on and
// records an Event when it says it removed a member.
func (r *nodeReport) staleMemberStatus(status func(string)) func(string) {
	if r == nil {
		return status
	}
	return func(s string) {
		status(s)
		if strings.HasPrefix(s, "removed stale etcd member ") {
			r.w.Record(nodereport.Event{Warning: true, Reason: kube.ReasonStaleMemberRemoved, Message: s})
		}
	}
}
