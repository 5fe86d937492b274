package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/usb"
)

// registerTimeout bounds the wait for k3s to register the node after its
// unit became active (kubelet start, image pulls on a slow SD card).
const registerTimeout = 10 * time.Minute

// apiTimeout bounds one read of the API for plan and status.
const apiTimeout = 5 * time.Second

// registerStep waits until k3s has registered this node in the API.
type registerStep struct{ a *Agent }

func (registerStep) Name() string  { return StepRegister }
func (registerStep) Applies() bool { return true }

func (s registerStep) Apply(ctx context.Context) error {
	a := s.a
	a.Reporter.Status(s.waitingFor())
	polls, refused := 0, false
	return host.PollUntil(ctx, a.Clock, "node registration", registerTimeout, time.Second, func(ctx context.Context) (bool, error) {
		if _, err := os.Stat(a.Root.Path(a.kubeconfig())); errors.Is(err, fs.ErrNotExist) {
			polls++
			if polls%passwordCheckEvery == 1 {
				was := refused
				if refused = s.passwordRefused(ctx); refused && !was {
					advice := refusedPasswordAdvice(a.Node.Name)
					a.log.Warn("k3s-agent is refused its node password", zap.String("advice", advice))
					a.Reporter.Status(advice)
				}
			}
			if refused {
				return false, errors.New(refusedPasswordAdvice(a.Node.Name))
			}
			return false, fmt.Errorf("%s not written yet", a.kubeconfig())
		}
		client, err := a.kubeClient()
		if err != nil {
			return false, err
		}
		_, err = kube.GetNode(ctx, client, a.Node.Name)
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("node %s not registered yet", a.Node.Name)
		}
		return err == nil, err
	})
}

// passwordCheckEvery: while an agent's kubelet has no credentials yet, its
// k3s-agent's journal is read every this many polls (seconds).
const passwordCheckEvery = 10

// refusedPasswordLog is what k3s-agent logs, and retries, while the servers
// hold another node password for its name (k3s pkg/agent/config/config.go,
// getNodeNamedCrt): a Pi of that name joined before, and this one was
// flashed anew with a new /etc/rancher/node/password.
const refusedPasswordLog = "Node password rejected"

// passwordRefused reads the last lines of an agent's k3s-agent journal for
// the refusal.
func (s registerStep) passwordRefused(ctx context.Context) bool {
	a := s.a
	if a.Node.Role == config.RoleServer || a.Systemd == nil {
		// A server's node password is checked only after it has joined,
		// and only for information (k3s pkg/nodepassword/validate.go).
		return false
	}
	lines, err := a.Systemd.JournalTail(ctx, k3s.UnitName(a.Node.Role), 20)
	return err == nil && refusesPassword(lines)
}

// refusesPassword: k3s-agent's last journal lines show the refusal.
func refusesPassword(lines []string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, refusedPasswordLog) })
}

// refusedPasswordAdvice says what to do about a refused node password: the
// servers delete a node's password Secret with its Node.
func refusedPasswordAdvice(node string) string {
	return fmt.Sprintf("the servers refuse this agent's node password: a Pi named %s joined before (flashed anew?); "+
		"on a server, `nodeagent remove-node %s` deletes its old Node and with it the password, and this agent then joins by itself", node, node)
}

// waitingFor is the STATUS line of the wait: a server's k3s registers its
// Node with the apiserver it runs; an agent's kubelet registers through the
// agent's load balancer to the servers, once k3s-agent has its certificates.
func (s registerStep) waitingFor() string {
	if s.a.Node.Role == config.RoleServer {
		return "waiting for node " + s.a.Node.Name + " to be registered"
	}
	return "waiting for the kubelet of agent " + s.a.Node.Name + " to register its Node through the servers"
}

func (s registerStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	n := s.a.Node
	st := plan.Step{Name: StepRegister, Summary: "wait until node " + n.Name + " is registered in the API (kubeconfig " + s.a.kubeconfig() + ")"}
	if n.Role != config.RoleServer {
		st.Summary = "wait until the kubelet of agent " + n.Name + " has registered its Node (read with the kubelet's credentials, " + s.a.kubeconfig() + ")"
	}
	if live {
		if _, err := s.a.liveNode(ctx); err != nil {
			st.Notes = append(st.Notes, "not registered now: "+err.Error())
		} else {
			st.Notes = append(st.Notes, "node "+n.Name+" is registered already: nothing to wait for")
		}
	}
	return st, nil
}

func (registerStep) Status(context.Context, *StatusReport) error { return nil }

// usbStep matches the USB devices plugged in now against the cluster's
// rules; the labels step writes what they add. The daemon watches for
// hotplug and runs the labels step on every change.
type usbStep struct{ a *Agent }

func (usbStep) Name() string  { return StepUSB }
func (usbStep) Applies() bool { return true }

func (s usbStep) Apply(context.Context) error {
	res, err := s.a.scanUSB()
	if err != nil {
		return err
	}
	for _, m := range res.Matches {
		s.a.log.Info("usb device matches a rule", zap.Any("match", m))
	}
	return nil
}

func (s usbStep) Plan(_ context.Context, live bool) (plan.Step, error) {
	st := usb.PlanStep(s.a.cluster().USBRules(), s.a.Node.USB)
	if !live {
		return st, nil
	}
	res, err := s.a.scanUSB()
	if err != nil {
		return st, err
	}
	if len(res.Matches) == 0 {
		st.Notes = append(st.Notes, "plugged in now: no device any rule matches")
	}
	for _, m := range res.Matches {
		st.Notes = append(st.Notes, fmt.Sprintf("plugged in now: %s matches rule %s", m.Description, m.Rule))
	}
	return st, nil
}

func (usbStep) Status(context.Context, *StatusReport) error { return nil }

// labelsStep writes the labels nodeagent owns on the node: static ones,
// those of mounted disks and those of plugged USB devices.
type labelsStep struct{ a *Agent }

func (labelsStep) Name() string  { return StepLabels }
func (labelsStep) Applies() bool { return true }

func (s labelsStep) Apply(ctx context.Context) error { return s.a.reconcileLabelsOnce(ctx) }

// Plan shows the labels nodeagent owns on the node and what they follow;
// live, the changes the Node needs now.
func (s labelsStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	n := s.a.Node
	st := plan.Step{Name: StepLabels, Summary: "node labels owned by nodeagent (recorded in " + kube.OwnedLabelsAnnotation + "; only these are ever removed)"}
	if live {
		return s.planLive(ctx, st)
	}
	if len(n.Labels) > 0 {
		st.Actions = append(st.Actions, plan.Action{Description: "static labels from the cluster file: " + formatLabels(n.Labels)})
	}
	for _, d := range n.Disks {
		if len(d.Labels) > 0 {
			st.Actions = append(st.Actions, plan.Action{Description: fmt.Sprintf("while %s is mounted: %s", d.MountPoint, formatLabels(d.Labels))})
		}
	}
	if len(st.Actions) == 0 {
		st.Notes = append(st.Notes, "no static or disk labels; USB labels as above")
	}
	return st, nil
}

// planLive diffs what the node should carry now against the Node object,
// with the diff Reconcile writes.
func (s labelsStep) planLive(ctx context.Context, st plan.Step) (plan.Step, error) {
	res, err := s.a.scanUSB()
	if err != nil {
		return st, err
	}
	want, err := s.a.desiredLabels(ctx, res)
	if err != nil {
		return st, err
	}
	node, err := s.a.liveNode(ctx)
	if err != nil {
		st.Notes = append(st.Notes, "cannot read the Node now ("+err.Error()+"): would set "+formatLabels(want.Labels))
		return st, nil
	}
	d, err := kube.ComputeDiff(node.Labels, node.Annotations, want)
	if err != nil {
		return st, err
	}
	for _, c := range d.Changes {
		st.Actions = append(st.Actions, plan.Action{Description: fmt.Sprintf("%s %s %s: %q -> %q", c.Op, c.Kind, c.Key, c.Old, c.New)})
	}
	for _, c := range d.Conflicts {
		st.Notes = append(st.Notes, "left alone: "+c.String())
	}
	if d.Empty() {
		st.Notes = append(st.Notes, "labels in step: nothing to write")
	}
	return st, nil
}

// Status lists the labels nodeagent owns on the Node now.
func (s labelsStep) Status(ctx context.Context, r *StatusReport) error {
	node, err := s.a.liveNode(ctx)
	if err != nil {
		return err
	}
	r.Labels = map[string]string{}
	for _, k := range strings.Split(node.Annotations[kube.OwnedLabelsAnnotation], ",") {
		if v, ok := node.Labels[k]; ok && k != "" {
			r.Labels[k] = v
		}
	}
	return nil
}

func formatLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
