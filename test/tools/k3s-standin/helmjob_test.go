package main

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func helmChart(name, version, helmVersion string) *unstructured.Unstructured {
	spec := map[string]any{"chart": name, "repo": "https://example.org/charts", "version": version}
	if helmVersion != "" {
		spec["helmVersion"] = helmVersion
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
		"metadata": map[string]any{"name": name, "namespace": "kube-system"},
		"spec":     spec,
	}}
}

func fakeClients(hc *unstructured.Unstructured) (*fake.Clientset, *dynfake.FakeDynamicClient) {
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{helmChartGVR: "HelmChartList"}, hc)
	return fake.NewClientset(), dyn
}

// TestInstallJobCompleteOnlyWhenSimulated: a simulated chart's Job ends
// Complete, any other chart's Job is made but never finishes, and a Helm
// v2 chart gets no Job and the Failed condition, as with helm-controller.
func TestInstallJobCompleteOnlyWhenSimulated(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, helmVersion string
		installed         bool
		wantJob, complete bool
	}{
		{"metallb", "", true, true, true},
		{"sealed-secrets", "", false, true, false},
		{"old", "v2", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := helmChart(tc.name, "1.0.0", tc.helmVersion)
			cs, dyn := fakeClients(hc)
			if err := syncInstallJob(ctx, cs, dyn, hc, tc.installed); err != nil {
				t.Fatal(err)
			}
			job, err := cs.BatchV1().Jobs("kube-system").Get(ctx, "helm-install-"+tc.name, metav1.GetOptions{})
			if (err == nil) != tc.wantJob {
				t.Fatalf("job exists = %v, want %v", err == nil, tc.wantJob)
			}
			if tc.wantJob && jobComplete(job) != tc.complete {
				t.Errorf("job complete = %v, want %v", jobComplete(job), tc.complete)
			}
			got, err := dyn.Resource(helmChartGVR).Namespace("kube-system").Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			failed := false
			for _, c := range conds {
				m := c.(map[string]any)
				failed = failed || (m["type"] == "Failed" && m["status"] == "True")
			}
			if failed == tc.wantJob {
				t.Errorf("Failed condition = %v with job = %v: %v", failed, tc.wantJob, conds)
			}
		})
	}
}

// TestInstallJobReplacedOnNewVersion: a Job for another version is deleted,
// then made anew for the chart's version.
func TestInstallJobReplacedOnNewVersion(t *testing.T) {
	ctx := context.Background()
	hc := helmChart("metallb", "0.14.9", "")
	cs, dyn := fakeClients(hc)
	if err := syncInstallJob(ctx, cs, dyn, hc, true); err != nil {
		t.Fatal(err)
	}
	hc = helmChart("metallb", "0.15.2", "")
	for range 2 { // delete, then create
		if err := syncInstallJob(ctx, cs, dyn, hc, true); err != nil {
			t.Fatal(err)
		}
	}
	job, err := cs.BatchV1().Jobs("kube-system").Get(ctx, "helm-install-metallb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if env := envOf(job); env != envOf(installJob(hc)) {
		t.Errorf("job env %s, want the chart's new version", env)
	}
}

// TestInstallJobKeepsTheJobControllersStartTime: the job controller sets a
// Job's start time first (immutable once set); marking the simulated
// chart's Job complete keeps it and adds each condition once.
func TestInstallJobKeepsTheJobControllersStartTime(t *testing.T) {
	ctx := context.Background()
	hc := helmChart("metallb", "1.0.0", "")
	cs, dyn := fakeClients(hc)
	if err := syncInstallJob(ctx, cs, dyn, hc, false); err != nil {
		t.Fatal(err)
	}
	jobs := cs.BatchV1().Jobs("kube-system")
	job, err := jobs.Get(ctx, "helm-install-metallb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	job.Status.StartTime = &started
	if _, err := jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := syncInstallJob(ctx, cs, dyn, hc, true); err != nil {
		t.Fatal(err)
	}
	if job, err = jobs.Get(ctx, "helm-install-metallb", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if !jobComplete(job) || job.Status.StartTime == nil || !job.Status.StartTime.Equal(&started) {
		t.Fatalf("complete = %v, start time %v, want complete with the job controller's %v", jobComplete(job), job.Status.StartTime, started)
	}
	seen := map[batchv1.JobConditionType]int{}
	for _, c := range job.Status.Conditions {
		seen[c.Type]++
	}
	if seen[batchv1.JobComplete] != 1 || seen[batchv1.JobSuccessCriteriaMet] != 1 {
		t.Errorf("conditions %v, want Complete and SuccessCriteriaMet once each", job.Status.Conditions)
	}
}
