package apply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodeagent/nodeagent/internal/host"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

// benchObjects is testdata/homelab.yaml (manifests.Render of the built-in
// homelab, 41 objects, frozen here so this package does not break when the
// renderer changes) plus ConfigMaps up to 60 objects, every namespace and
// cluster-scoped name suffixed so each run starts on fresh objects.
func benchObjects(t *testing.T, suffix string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile("testdata/homelab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(objs); i < 60; i++ {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("extra-%02d", i), "namespace": "files"},
			"data":     map[string]any{"index": fmt.Sprint(i)},
		}})
	}
	for _, u := range objs {
		switch ns := u.GetNamespace(); {
		case u.GetKind() == "Namespace", ns == "" || ns == "kube-system":
			u.SetName(u.GetName() + "-" + suffix)
		default:
			u.SetNamespace(ns + "-" + suffix)
		}
	}
	return objs
}

// kubectlApply runs kubectl apply --server-side on objs written to a
// directory and returns its wall time.
func kubectlApply(t *testing.T, kubeconfig, cacheDir string, objs []*unstructured.Unstructured) time.Duration {
	t.Helper()
	dir := t.TempDir()
	var docs []byte
	for _, u := range objs {
		j, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(append(append(docs, "---\n"...), j...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "set.yaml"), docs, 0o600); err != nil {
		t.Fatal(err)
	}
	run := host.NewExecRunner(zaptest.NewLogger(t))
	start := time.Now()
	if _, err := run.Run(context.Background(), "kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cacheDir,
		"apply", "--server-side", "--field-manager", "kubectl-bench", "-f", dir); err != nil {
		t.Fatalf("kubectl apply: %v", err)
	}
	return time.Since(start)
}

// TestBenchApplyVsKubectl applies the same 60 objects with nodeagent and
// with kubectl apply --server-side, each on fresh namespaces, then times a
// no-op re-apply, against the per-object apply as baseline. Targets:
// nodeagent ≤ 0.5× kubectl, no-op median ≤ 100 ms (figures; the test fails
// only when the no-op is no cheaper than an apply per object).
func TestBenchApplyVsKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark; runs without -short")
	}
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		t.Skip("kubectl not installed")
	}
	srv := kube.Get(t)
	crds, err := os.ReadFile("testdata/chart-crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv.InstallCRDs(t, crds)
	suffix := uniqueName(t, srv)
	cacheDir := t.TempDir()
	kubectlSet := benchObjects(t, "k"+suffix)
	// Warm kubectl's discovery cache so its figure is only the apply.
	kubectlApply(t, srv.KubeconfigPath(), cacheDir, kubectlSet[:1])

	kubectlTime := kubectlApply(t, srv.KubeconfigPath(), cacheDir, kubectlSet)
	kubectlNoop := kubectlApply(t, srv.KubeconfigPath(), cacheDir, kubectlSet)

	set := benchObjects(t, "n"+suffix)
	start := time.Now()
	e := testEngine(t, srv, "inv-"+suffix, Options{})
	r := mustApply(t, e, set)
	nodeagentTime := time.Since(start)
	if n := r.Counts()[Created]; n != len(set) {
		t.Fatalf("created %d of %d: %s\n%v", n, len(set), r.Summary(), r.Err())
	}

	// kube-apiserver v1.37 rewrites a PersistentVolumeClaim on the first
	// apply after its creation even when nothing changed (the
	// resourceVersion moves, no field does); later applies are no-ops.
	// Make that apply here, with the per-object path, so that the
	// baseline's passes below are no-ops too.
	e.perObject = true
	r = mustApply(t, e, set)
	e.perObject = false
	for _, res := range r.Results {
		if res.Outcome != Unchanged && !(res.Outcome == Configured && res.GVK.Kind == "PersistentVolumeClaim") {
			t.Errorf("first re-apply: %s %s", res.Key, res.Outcome)
		}
	}

	// The daemon re-applies minutes apart, so the client's rate limiter
	// starts each run with a full burst; idle long enough for it to refill
	// (burst 100 at 50/s) so back-to-back runs do not measure the limiter:
	// 1.2 s gives back the 60-odd requests of a per-object pass.
	refill := func() {
		timer := time.NewTimer(1200 * time.Millisecond)
		defer timer.Stop()
		<-timer.C
	}
	// Each pass of the list-and-compare no-op is paired with one of the
	// per-object path (an apply request per object) as the baseline.
	noopPass := func(perObject bool) time.Duration {
		refill()
		e.perObject = perObject
		defer func() { e.perObject = false }()
		start := time.Now()
		r := mustApply(t, e, set)
		took := time.Since(start)
		if n := r.Counts()[Unchanged]; n != len(set) {
			for _, res := range r.Results {
				if res.Outcome != Unchanged {
					t.Errorf("no-op re-apply: %s %s", res.Key, res.Outcome)
				}
			}
			t.Fatalf("no-op re-apply (per object %v): %s, want all %d unchanged", perObject, r.Summary(), len(set))
		}
		return took
	}
	var noops, perObject []time.Duration
	for range 10 {
		perObject = append(perObject, noopPass(true))
		noops = append(noops, noopPass(false))
	}
	slices.Sort(noops)
	slices.Sort(perObject)
	noop, baseline := noops[len(noops)/2], perObject[len(perObject)/2]
	ratio := float64(nodeagentTime) / float64(kubectlTime)
	t.Logf("apply %d objects: nodeagent %s, kubectl --server-side %s, ratio %.2f (target <= 0.50)",
		len(set), nodeagentTime.Round(time.Millisecond), kubectlTime.Round(time.Millisecond), ratio)
	t.Logf("no-op re-apply over %d passes: nodeagent median %s (min %s, max %s; target <= 100ms), "+
		"per-object apply median %s (max %s), ratio %.2f; kubectl %s",
		len(noops), ms(noop), ms(noops[0]), ms(noops[len(noops)-1]),
		ms(baseline), ms(perObject[len(perObject)-1]), float64(noop)/float64(baseline), ms(kubectlNoop))
	// The machine is shared: fail the apply only far beyond its target, on
	// a regression rather than on noise.
	if ratio > 1 {
		t.Errorf("nodeagent far off its apply target: ratio %.2f", ratio)
	}
	benchfig.Report(t, benchfig.Figure{
		Name:     fmt.Sprintf("apply %d objects (first time)", len(set)),
		Value:    fmt.Sprintf("%s (%.2f× kubectl)", ms(nodeagentTime), ratio),
		Target:   "≤ 0.50× kubectl",
		Baseline: "kubectl apply --server-side " + ms(kubectlTime).String(),
		Met:      benchfig.Met(ratio <= 0.5),
	})
	benchfig.Report(t, benchfig.Figure{
		Name:     fmt.Sprintf("no-op re-apply of %d objects (median of %d)", len(set), len(noops)),
		Value:    fmt.Sprintf("%s (max %s)", ms(noop), ms(noops[len(noops)-1])),
		Target:   "≤ 100ms median",
		Baseline: fmt.Sprintf("an apply per object %s; kubectl %s", ms(baseline), ms(kubectlNoop)),
		Met:      benchfig.Met(noop <= 100*time.Millisecond),
	})
	// The 100 ms target is a figure on a shared machine; what fails is a
	// no-op that costs as much as applying every object in the same run.
	if noop >= baseline {
		t.Errorf("no-op re-apply median %s, not below the per-object path's %s in the same run", ms(noop), ms(baseline))
	}
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
