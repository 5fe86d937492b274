package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/capacity"
)

// failureTimeout bounds the wait for the controllers to act on a node
// failure: NotReady 30 s after the last heartbeat, evictions 10 s later
// (timeoutsDropIn), the replacements scheduled.
const failureTimeout = 3 * time.Minute

// failureOf is the analysis of down's failure.
func failureOf(t testing.TB, r *capacity.Report, down string) capacity.Failure {
	t.Helper()
	for _, f := range r.Failures {
		if f.Node == down {
			return f
		}
	}
	t.Fatalf("the capacity analysis has no failure of %s", down)
	return capacity.Failure{}
}

// workloadOf is the workload of an analysis pod name ("pihole#2").
func workloadOf(podName string) string {
	w, _, _ := strings.Cut(podName, "#")
	return w
}

// ownedByDaemonSet reports whether a DaemonSet runs the pod: such pods
// tolerate an unreachable node and stay.
func ownedByDaemonSet(p corev1.Pod) bool {
	return slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "DaemonSet" })
}

// unschedulable reports whether the scheduler found no node for the pod.
func unschedulable(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// waitEvicted waits until the node is NotReady (Unknown: no heartbeat) and
// every pod on it that no DaemonSet runs is being deleted.
func waitEvicted(ctx context.Context, t *testing.T, cs kubernetes.Interface, down string) {
	t.Helper()
	poll(t, down+" NotReady and its pods evicted", failureTimeout, pollEvery, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, down, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return fmt.Errorf("%s still Ready", down)
			}
		}
		pods, err := workloadPods(ctx, cs)
		if err != nil {
			return err
		}
		for _, ps := range pods {
			for _, p := range ps {
				if p.Spec.NodeName == down && !ownedByDaemonSet(p) && p.DeletionTimestamp == nil {
					return fmt.Errorf("%s not evicted yet", p.Name)
				}
			}
		}
		return nil
	})
}

// checkFailure holds the cluster, with down's pods evicted, to the
// analysis of down's failure. A pod the analysis calls LOST (its HARD
// labels on no other node) or HELD BY VOLUME (its local-path volume on the
// down node) gets a replacement that stays Pending as unschedulable, and
// its workload has no Ready pod unless the analysis names a replica that
// still serves it, which must be Ready there; a MOVED pod runs Ready on
// another node. Which one is the scheduler's choice in the order the
// ReplicaSets' replacements reach it (validate places the largest first,
// the scheduler takes them as they come): the summary gives both. A
// StatefulSet never replaces a pod whose
// end the controllers cannot see (its node is unreachable): the test does
// what the owner does, `kubectl delete pod --force`, and the replacement
// must then be Pending.
func checkFailure(ctx context.Context, t *testing.T, cs kubernetes.Interface, f capacity.Failure) string {
	t.Helper()
	held := map[string]int{}
	for _, name := range append(slices.Clone(f.Lost), f.Pinned...) {
		held[workloadOf(name)]++
	}
	servedOn := map[string]string{}
	for _, s := range f.ServedBy {
		name, node, _ := strings.Cut(s, "@")
		servedOn[workloadOf(name)] = node
	}
	forced := map[string]bool{}
	var landed []string
	poll(t, "the cluster as the analysis of "+f.Node+"'s failure says", failureTimeout, pollEvery, func() error {
		pods, err := workloadPods(ctx, cs)
		if err != nil {
			return err
		}
		var problems []string
		for w, count := range held {
			pending := 0
			for _, p := range pods[w] {
				switch {
				case p.DeletionTimestamp != nil && p.Spec.NodeName == f.Node && statefulSetPod(p) && !forced[p.Name]:
					zero := int64(0)
					if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
						return fmt.Errorf("force-deleting %s: %w", p.Name, err)
					}
					forced[p.Name] = true
				case podReady(p) && servedOn[w] == "":
					problems = append(problems, fmt.Sprintf("%s Ready on %s, the analysis says %s is down", p.Name, p.Spec.NodeName, w))
				case p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodPending && unschedulable(p):
					pending++
				}
			}
			if pending != count {
				problems = append(problems, fmt.Sprintf("%s: %d pods Pending as unschedulable, want %d: %s", w, pending, count, describePods(pods[w])))
			}
		}
		for w, node := range servedOn {
			if !slices.ContainsFunc(pods[w], func(p corev1.Pod) bool { return podReady(p) && p.Spec.NodeName == node }) {
				problems = append(problems, fmt.Sprintf("%s: no Ready pod on %s: %s", w, node, describePods(pods[w])))
			}
		}
		landed = landed[:0]
		for _, m := range f.Moved {
			w := m.Pod.Workload
			i := slices.IndexFunc(pods[w], func(p corev1.Pod) bool { return podReady(p) && p.Spec.NodeName != f.Node })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("%s (MOVED): no Ready pod off %s: %s", w, f.Node, describePods(pods[w])))
				continue
			}
			landed = append(landed, fmt.Sprintf("%s→%s (validate: %s)", w, pods[w][i].Spec.NodeName, m.Node))
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			return fmt.Errorf("%s", strings.Join(problems, "\n"))
		}
		return nil
	})
	return fmt.Sprintf("Pending as validate says: lost %v, held by volume %v; served by %v; moved %v",
		f.Lost, f.Pinned, f.ServedBy, landed)
}

func statefulSetPod(p corev1.Pod) bool {
	return slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "StatefulSet" })
}

// waitAllRunning waits until every workload has its count of pods Ready,
// wherever they run: after a failure, moved pods stay where they went.
func waitAllRunning(ctx context.Context, t *testing.T, cs kubernetes.Interface, r *capacity.Report, when string) map[string][]string {
	t.Helper()
	return waitWorkloads(ctx, t, cs, placementByWorkload(r.Placements), when)
}

// pi42Down: the architecture's "Pi 4 #2 (Zigbee) failure": pi4-2 stops
// (nodeagent and k3s: a Pi powered off); the controllers evict its pods;
// home-assistant is down and its replacement Pending (held by its volume
// on pi4-2: in this cluster pi4-3 may carry the Zigbee stick too),
// nginx-proxy-manager and pihole go on from pi4-1, as validate's analysis
// says. pi4-2 comes back and everything runs again.
func (sc *scenario) pi42Down(t *testing.T) {
	pi41, pi42 := sc.h.nodes["pi4-1"], sc.h.nodes["pi4-2"]
	cs := pi41.clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*failureTimeout)
	defer cancel()
	report := sc.h.capacityReport(t)
	start := time.Now()
	stopNode(t, pi42)
	waitEvicted(ctx, t, cs, "pi4-2")
	evicted := time.Since(start).Round(time.Millisecond)
	what := checkFailure(ctx, t, cs, failureOf(t, report, "pi4-2"))
	pi42.mustExec(t, "systemctl", "start", "--no-block", "k3s.service", "nodeagent.service")
	back := time.Now()
	waitAllRunning(ctx, t, cs, report, "with pi4-2 back")
	sc.settled(t)
	sc.sum.add("pi4-2 down", "ok", fmt.Sprintf("pods evicted %s after the stop; %s; all Running again %s after pi4-2 came back",
		evicted, what, time.Since(back).Round(time.Millisecond)))
}

// diskLabels are the labels pi5's HDD gives its Node while mounted.
func (h *homelab) diskLabels(t testing.TB) map[string]string {
	t.Helper()
	n, ok := h.parsedCluster(t).Node("pi5")
	if !ok || len(n.Disks) == 0 {
		t.Fatal("pi5 has no disk in the cluster file")
	}
	return n.Disks[0].Labels
}

// waitDiskLabels waits until pi5's Node carries its disk's labels (on) or
// none of them.
func waitDiskLabels(ctx context.Context, t *testing.T, cs kubernetes.Interface, labels map[string]string, on bool) {
	t.Helper()
	poll(t, fmt.Sprintf("pi5's disk labels present=%v", on), time.Minute, pollEvery, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, "pi5", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for k, v := range labels {
			got, ok := node.Labels[k]
			if on && got != v || !on && ok {
				return fmt.Errorf("pi5's labels: %v", node.Labels)
			}
		}
		return nil
	})
}

// hddAway: with pi5's HDD unmounted its labels go, so a pod that needs the
// HDD lands nowhere, pi5's SD card included: filebrowser, restarted as the
// owner would, stays Pending as unschedulable.
func (sc *scenario) hddAway(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	waitDiskLabels(ctx, t, cs, sc.h.diskLabels(t), false)
	pods, err := workloadPods(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods["filebrowser"] {
		if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("restarting filebrowser: %v", err)
		}
	}
	poll(t, "filebrowser's new pod Pending, the HDD away", failureTimeout, pollEvery, func() error {
		pods, err := workloadPods(ctx, cs)
		if err != nil {
			return err
		}
		fb := pods["filebrowser"]
		if len(fb) != 1 || fb[0].Spec.NodeName != "" || !unschedulable(fb[0]) {
			return fmt.Errorf("filebrowser: %s", describePods(fb))
		}
		return nil
	})
}

// hddBack: the disk is mounted again, its labels are back and filebrowser
// runs on pi5.
func (sc *scenario) hddBack(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	waitDiskLabels(ctx, t, cs, sc.h.diskLabels(t), true)
	waitWorkloads(ctx, t, cs, map[string][]string{"filebrowser": {"pi5"}}, "with the HDD back")
}
