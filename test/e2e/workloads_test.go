package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/capacity"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/test/harness/procstat"
)

// workloadTimeout bounds the wait for the workloads' pods: the scheduler,
// the controllers and four kubelets on a 2-core machine.
const workloadTimeout = 5 * time.Minute

// clientset is an admin client of the API through n.
func (n *node) clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cfg, err := n.restConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// capacityReport is `nodeagent validate`'s capacity analysis of the run's
// cluster file (the same code, internal/capacity).
func (h *homelab) capacityReport(t testing.TB) *capacity.Report {
	t.Helper()
	f := h.parsedCluster(t)
	r, err := capacity.Check(&f.Cluster)
	if err != nil {
		t.Fatalf("the capacity analysis of the run's cluster file: %v", err)
	}
	return r
}

// checkWorkloads: the owner creates the Secrets that `nodeagent status`
// names as missing (placeholder values here: sealed-secrets does not run);
// then every pod of the architecture runs, placed by the real scheduler
// where validate's capacity analysis places it, and each CronJob's pod lands
// on the node the analysis gives it.
func (sc *scenario) checkWorkloads(t *testing.T) {
	pi41 := sc.h.nodes["pi4-1"]
	cs := pi41.clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*workloadTimeout)
	defer cancel()
	created := createMissingSecrets(ctx, t, pi41, cs)
	start := time.Now()
	report := sc.h.capacityReport(t)
	want := placementByWorkload(report.Placements)
	got := waitWorkloads(ctx, t, cs, want, "after the join")
	running := time.Since(start).Round(time.Millisecond)
	misplaced := false
	for _, w := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(want[w], got[w]) {
			misplaced = true
			t.Errorf("%s: the scheduler put its pods on %v, validate's analysis on %v", w, got[w], want[w])
		}
	}
	if misplaced {
		t.Logf("when the nodes came and the pods were scheduled:\n%s", schedulingTimeline(ctx, cs))
	}
	for _, p := range report.Transient {
		node := runCronJobOnce(ctx, t, cs, p.Pod.Workload)
		if node != p.Node {
			t.Errorf("CronJob %s: its pod ran on %s, validate's analysis puts it on %s", p.Pod.Workload, node, p.Node)
		}
	}
	sc.sum.add("workloads", "ok", fmt.Sprintf("%d Secrets created as `status` asked; %d workloads Running %s later, on the nodes validate gives them; %d CronJobs' pods too; k3s RSS %s",
		len(created), len(want), running, len(report.Transient), sc.k3sRSS()))
}

// schedulingTimeline lists, in time order, when each Node registered and
// became Ready (with the taints it carries now), and when each workload
// pod was created and scheduled where: what explains a misplaced pod.
func schedulingTimeline(ctx context.Context, cs kubernetes.Interface) string {
	type event struct {
		at   time.Time
		what string
	}
	var evs []event
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "nodes: " + err.Error()
	}
	for _, n := range nodes.Items {
		evs = append(evs, event{n.CreationTimestamp.Time, "node " + n.Name + " registered"})
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				evs = append(evs, event{c.LastTransitionTime.Time, fmt.Sprintf("node %s Ready=%s", n.Name, c.Status)})
			}
		}
		var taints []string
		for _, tn := range n.Spec.Taints {
			taints = append(taints, tn.Key+":"+string(tn.Effect))
		}
		if len(taints) > 0 {
			evs = append(evs, event{time.Now(), fmt.Sprintf("node %s taints now %v", n.Name, taints)})
		}
	}
	pods, err := workloadPods(ctx, cs)
	if err != nil {
		return "pods: " + err.Error()
	}
	for _, ps := range pods {
		for _, p := range ps {
			evs = append(evs, event{p.CreationTimestamp.Time, "pod " + p.Name + " created"})
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
					evs = append(evs, event{c.LastTransitionTime.Time, "pod " + p.Name + " scheduled to " + p.Spec.NodeName})
				}
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s  %s\n", e.at.Format("15:04:05"), e.what)
	}
	return b.String()
}

// k3sRSS is each node's k3s process RSS: the stand-in's etcd, apiserver,
// scheduler, controller-manager and kubelet on a server, the kubelet on
// the agent.
func (sc *scenario) k3sRSS() string {
	var b []string
	for _, n := range sc.h.all() {
		unit := "k3s.service"
		if n.name == agentName {
			unit = "k3s-agent.service"
		}
		s, err := procstat.Read(n.c.Path("/proc/" + n.unitProp(unit, "MainPID")))
		if err != nil {
			b = append(b, n.name+" ?")
			continue
		}
		b = append(b, fmt.Sprintf("%s %d MiB", n.name, s.RSSKiB>>10))
	}
	return strings.Join(b, ", ")
}

// placementByWorkload is workload → the sorted nodes of its pods.
func placementByWorkload(ps []capacity.Placement) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		out[p.Pod.Workload] = append(out[p.Pod.Workload], p.Node)
	}
	for _, nodes := range out {
		sort.Strings(nodes)
	}
	return out
}

// createMissingSecrets does what the owner does for each Secret that
// `nodeagent status` on n names as missing: creates it (or adds the keys a
// present one lacks), here with placeholder values. It returns their names.
func createMissingSecrets(ctx context.Context, t *testing.T, n *node, cs kubernetes.Interface) []string {
	t.Helper()
	var states []manifests.SecretState
	poll(t, n.name+" status lists the Secrets the workloads need", time.Minute, pollEvery, func() error {
		st, err := n.status()
		if err != nil {
			return err
		}
		if len(st.Secrets) == 0 {
			return fmt.Errorf("no secrets in the status")
		}
		states = st.Secrets
		return nil
	})
	var names []string
	for _, s := range states {
		if s.State != manifests.SecretMissing {
			continue
		}
		keys := append(slices.Clone(s.Keys), s.MissingKeys...)
		secrets := cs.CoreV1().Secrets(s.Namespace)
		sec, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace}, StringData: map[string]string{}}
			for _, k := range keys {
				sec.StringData[k] = "e2e-placeholder"
			}
			_, err = secrets.Create(ctx, sec, metav1.CreateOptions{})
		case err == nil:
			if sec.StringData == nil {
				sec.StringData = map[string]string{}
			}
			for _, k := range keys {
				sec.StringData[k] = "e2e-placeholder"
			}
			_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatalf("creating the Secret %s: %v", s, err)
		}
		names = append(names, s.String())
	}
	poll(t, n.name+" status shows no missing Secret", time.Minute, pollEvery, func() error {
		st, err := n.status()
		if err != nil {
			return err
		}
		for _, s := range st.Secrets {
			if s.State == manifests.SecretMissing {
				return fmt.Errorf("%s still missing", s)
			}
		}
		return nil
	})
	return names
}

// workloadPods lists the pods of the rendered workloads (labelled with
// their app name), the CronJobs' Job pods left out, by workload.
func workloadPods(ctx context.Context, cs kubernetes.Interface) (map[string][]corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelName})
	if err != nil {
		return nil, err
	}
	out := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		if _, job := p.Labels["batch.kubernetes.io/job-name"]; job {
			continue
		}
		w := p.Labels[manifests.LabelName]
		out[w] = append(out[w], p)
	}
	return out, nil
}

// podReady reports whether the pod runs and is Ready.
func podReady(p corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describePods is a short account of pods for an error message.
func describePods(pods []corev1.Pod) string {
	var b []string
	for _, p := range pods {
		s := fmt.Sprintf("%s %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		if p.DeletionTimestamp != nil {
			s += " terminating"
		}
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				s += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
			}
		}
		b = append(b, s)
	}
	return strings.Join(b, "; ")
}

// waitWorkloads waits until each workload of want has exactly its count of
// pods, every one Running and Ready, and returns where they run.
func waitWorkloads(ctx context.Context, t *testing.T, cs kubernetes.Interface, want map[string][]string, when string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	poll(t, "every workload's pods Running and Ready "+when, workloadTimeout, pollEvery, func() error {
		pods, err := workloadPods(ctx, cs)
		if err != nil {
			return err
		}
		got = map[string][]string{}
		var problems []string
		for _, w := range slices.Sorted(maps.Keys(want)) {
			ready := 0
			for _, p := range pods[w] {
				if podReady(p) {
					ready++
					got[w] = append(got[w], p.Spec.NodeName)
				}
			}
			if ready != len(want[w]) || len(pods[w]) != len(want[w]) {
				problems = append(problems, fmt.Sprintf("%s: %d of %d Ready: %s", w, ready, len(want[w]), describePods(pods[w])))
			}
			sort.Strings(got[w])
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s", strings.Join(problems, "\n"))
		}
		return nil
	})
	return got
}

// runCronJobOnce runs the CronJob's Job now, as `kubectl create job
// --from=cronjob/NAME` does, waits for its pod to run, deletes the Job and
// returns the pod's node.
func runCronJobOnce(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	cjs, err := cs.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelName + "=" + name})
	if err != nil || len(cjs.Items) != 1 {
		t.Fatalf("CronJob %s: %v (%d found)", name, err, len(cjs.Items))
	}
	cj := cjs.Items[0]
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-e2e", Namespace: cj.Namespace,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	jobs := cs.BatchV1().Jobs(cj.Namespace)
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a Job from CronJob %s: %v", name, err)
	}
	var node string
	poll(t, "the pod of "+job.Name+" running", workloadTimeout, pollEvery, func() error {
		pods, err := cs.CoreV1().Pods(cj.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
				node = p.Spec.NodeName
				return nil
			}
		}
		return fmt.Errorf("pods: %s", describePods(pods.Items))
	})
	background := metav1.DeletePropagationBackground
	if err := jobs.Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Errorf("deleting the Job %s: %v", job.Name, err)
	}
	return node
}
