package serverwork

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// A pod is placed once, when its workload is first created, and a
// local-path volume then binds to the node that pod ran on. The servers
// join one after another, and quorum opens the apply as soon as the second
// of three has joined etcd, often seconds before the last one's kubelet
// registers its Node. A pod that prefers that node (immich-postgres on pi5)
// would then go to another one, and its data would stay on that Pi's SD
// card for good. So before an apply creates workloads, it waits (up to
// apply.nodesTimeout) for the nodes validate's capacity analysis places
// their pods on to be Ready and free of the taints a starting node carries.
// After the timeout it creates them anyway and says where they may land.

// placementPoll is how often the gate looks at the Nodes.
const placementPoll = time.Second

// taintUninitialized is the taint a Node carries until the cloud
// controller (k3s's embedded one) has initialised it, as k8s.io/cloud-provider
// names it.
const taintUninitialized = "node.cloudprovider.kubernetes.io/uninitialized"

// startingTaints are the taints that keep pods off a node that is still
// starting (or has stopped answering); a taint of the owner's is not one.
var startingTaints = []string{
	corev1.TaintNodeNotReady,
	corev1.TaintNodeUnreachable,
	corev1.TaintNodeNetworkUnavailable,
	taintUninitialized,
}

// workloadKeys maps each rendered Deployment and StatefulSet's workload
// name to its manifests.Key (DaemonSets run on every node anyway, and a
// CronJob's pods come later).
func workloadKeys(set manifests.Set) map[string]string {
	keys := map[string]string{}
	for _, o := range set.Phase(manifests.PhaseWorkloads) {
		if k := o.GetKind(); k == "Deployment" || k == "StatefulSet" {
			keys[o.GetLabels()[manifests.LabelName]] = manifests.Key(o)
		}
	}
	return keys
}

// placementTargets maps each node to the new workloads (in keys, by name)
// whose pods the analysis places there.
func placementTargets(report *capacity.Report, newWorkloads map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, p := range report.Placements {
		if _, ok := newWorkloads[p.Pod.Workload]; !ok || slices.Contains(out[p.Node], p.Pod.Workload) {
			continue
		}
		out[p.Node] = append(out[p.Node], p.Pod.Workload)
	}
	return out
}

// nodeNotReady says why a Node cannot take pods yet; "" when it can. A
// cordoned node counts as ready: the owner keeps pods off it on purpose.
func nodeNotReady(n *corev1.Node) string {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return "not Ready"
	}
	for _, t := range n.Spec.Taints {
		if slices.Contains(startingTaints, t.Key) {
			return "tainted " + t.Key
		}
	}
	return ""
}

// existingWorkloads lists the Deployments and StatefulSets that carry the
// workload name label, by manifests.Key.
func existingWorkloads(ctx context.Context, client kubernetes.Interface) (map[string]bool, error) {
	opts := metav1.ListOptions{LabelSelector: manifests.LabelName}
	out := map[string]bool{}
	deps, err := client.AppsV1().Deployments("").List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, d := range deps.Items {
		out["Deployment/"+d.Namespace+"/"+d.Name] = true
	}
	sets, err := client.AppsV1().StatefulSets("").List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing StatefulSets: %w", err)
	}
	for _, s := range sets.Items {
		out["StatefulSet/"+s.Namespace+"/"+s.Name] = true
	}
	return out, nil
}

// unreadyTargets returns "node (why)" for each target node that cannot take
// pods yet, sorted.
func unreadyTargets(ctx context.Context, client kubernetes.Interface, targets map[string][]string) ([]string, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	byName := map[string]*corev1.Node{}
	for i := range nodes.Items {
		byName[nodes.Items[i].Name] = &nodes.Items[i]
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		why := "not registered"
		if n, ok := byName[name]; ok {
			why = nodeNotReady(n)
		}
		if why != "" {
			out = append(out, name+" ("+why+")")
		}
	}
	return out, nil
}

// waitForPlacementNodes waits until the nodes the new workloads' pods are
// placed on can take them, up to apply.nodesTimeout. It returns a note
// when it stopped waiting without them (the apply goes on), and an error
// only when the cluster cannot be read or ctx ends.
func (p *Work) waitForPlacementNodes(ctx context.Context, client kubernetes.Interface, set manifests.Set, status func(string)) (string, error) {
	live, err := existingWorkloads(ctx, client)
	if err != nil {
		return "", err
	}
	newWorkloads := workloadKeys(set)
	maps.DeleteFunc(newWorkloads, func(_, key string) bool { return live[key] })
	if len(newWorkloads) == 0 {
		return "", nil
	}
	report, err := capacity.Analyze(p.cfg.Cluster, set, capacity.Options{})
	if err != nil {
		return "", err
	}
	targets := placementTargets(report, newWorkloads)
	waiting, err := unreadyTargets(ctx, client, targets)
	if err != nil || len(waiting) == 0 {
		return "", err
	}
	timeout := p.cfg.Cluster.Apply.NodesTimeout.Duration
	waitedFor := slices.Clone(waiting)
	workloads := workloadsOn(targets, waiting)
	status(fmt.Sprintf("waiting up to %s for %s before creating %s: the scheduler would place their pods elsewhere",
		timeout, strings.Join(waiting, ", "), strings.Join(workloads, ", ")))
	since := p.cfg.Clock.Now()
	perr := host.PollUntil(ctx, p.cfg.Clock, "the nodes the new workloads are placed on", timeout, placementPoll, func(ctx context.Context) (bool, error) {
		now, err := unreadyTargets(ctx, client, targets)
		if err != nil {
			return false, err // keep the last list read
		}
		waiting = now
		return len(waiting) == 0, nil
	})
	waited := p.cfg.Clock.Now().Sub(since).Round(time.Millisecond)
	if ctx.Err() != nil {
		return "", perr
	}
	if len(waiting) == 0 {
		p.log.Info("waited for the new workloads' nodes", zap.Duration("waited", waited), zap.Strings("nodes", waitedFor))
		return "", nil
	}
	note := fmt.Sprintf("created %s without %s after waiting %s: their pods may run elsewhere, and a local-path volume stays where its pod first ran",
		strings.Join(workloadsOn(targets, waiting), ", "), strings.Join(waiting, ", "), timeout)
	p.log.Warn("creating workloads before their nodes are Ready", zap.String("note", note))
	return note, nil
}

// workloadsOn lists, sorted, the workloads placed on the nodes named in
// waiting ("node (why)").
func workloadsOn(targets map[string][]string, waiting []string) []string {
	var out []string
	for _, w := range waiting {
		name, _, _ := strings.Cut(w, " ")
		out = append(out, targets[name]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
