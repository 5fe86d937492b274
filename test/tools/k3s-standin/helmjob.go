package main

import (
	"context"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// The helm controller's observable side, imitated from helm-controller's
// pkg/controllers/chart/chart.go (v0.16, the version k3s v1.33 pins): for
// each HelmChart it makes the Job helm-install-<name> in the chart's
// namespace, labelled helmcharts.helm.cattle.io/chart=<name>, whose "helm"
// container carries the chart's NAME, VERSION and REPO in its env; it
// records the Job in status.jobName with the JobCreated condition; it
// replaces the Job when the chart asks for something else; and a chart
// whose spec.helmVersion is neither empty nor v3 gets the Failed condition
// and no Job. The Job controller then marks the Job Complete once helm ran.
//
// There is no job controller, no pod and no helm here. The stand-in marks
// the Job Complete only for a chart it simulates (chartComponents) and only
// once the chart's CRDs are Established; any other chart's Job stays
// unfinished, as it would on a k3s that cannot install it. Never kinder
// than k3s.

var helmChartGVR = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

const labelChartName = "helmcharts.helm.cattle.io/chart"

func installJobName(chart string) string { return "helm-install-" + chart }

// syncInstallJob makes hc's install Job as helm-controller would and, when
// installed is true (the simulated chart's CRDs are served), marks it
// Complete as the job controller would after helm succeeded.
func syncInstallJob(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, hc *unstructured.Unstructured, installed bool) error {
	helmVersion, _, _ := unstructured.NestedString(hc.Object, "spec", "helmVersion")
	if helmVersion != "" && helmVersion != "v3" {
		return setChartStatus(ctx, dyn, hc, "", []any{
			condition("JobCreated", "False", "", ""),
			condition("Failed", "True", "Unsupported version", "Only Helm v3 charts are supported"),
		})
	}
	want := installJob(hc)
	jobs := cs.BatchV1().Jobs(hc.GetNamespace())
	job, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if job, err = jobs.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating job %s/%s: %w", hc.GetNamespace(), want.Name, err)
		}
	case err != nil:
		return err
	case envOf(job) != envOf(want):
		// helm-controller deletes and re-creates a Job whose pod template
		// no longer matches the chart (reconcileJob, templateChanged).
		bg := metav1.DeletePropagationBackground
		if err := jobs.Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil // created on the next pass, once the old one is gone
	}
	msg := fmt.Sprintf("Applying HelmChart using Job %s/%s", hc.GetNamespace(), job.Name)
	if err := setChartStatus(ctx, dyn, hc, job.Name, []any{
		condition("JobCreated", "True", "Job created", msg),
		condition("Failed", "False", "", ""),
	}); err != nil {
		return err
	}
	if !installed || jobComplete(job) {
		return nil
	}
	// The job controller runs too: it sets the start time (immutable once
	// set) and would make the pod, which it cannot, as helm-controller's
	// ServiceAccount helm-<chart> does not exist here. What it set stays.
	now := metav1.Now()
	if job.Status.StartTime == nil {
		job.Status.StartTime = &now
	}
	job.Status.CompletionTime = &now
	job.Status.Succeeded = 1
	for _, typ := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete} {
		if !slices.ContainsFunc(job.Status.Conditions, func(c batchv1.JobCondition) bool { return c.Type == typ }) {
			job.Status.Conditions = append(job.Status.Conditions,
				batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now})
		}
	}
	if _, err := jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("marking job %s/%s complete: %w", job.Namespace, job.Name, err)
	}
	return nil
}

// installJob is the part of helm-controller's Job (func job) that can be
// observed without running it: name, label and the chart's env.
func installJob(hc *unstructured.Unstructured) *batchv1.Job {
	spec := func(f string) string { v, _, _ := unstructured.NestedString(hc.Object, "spec", f); return v }
	chart := spec("chart")
	if spec("repo") != "" {
		chart = hc.GetName() + "/" + chart
	}
	target := spec("targetNamespace")
	if target == "" {
		target = hc.GetNamespace()
	}
	labels := map[string]string{labelChartName: hc.GetName()}
	backoff := int32(1000)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: installJobName(hc.GetName()), Namespace: hc.GetNamespace(), Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyOnFailure,
					ServiceAccountName: "helm-" + hc.GetName(),
					Containers: []corev1.Container{{
						Name: "helm", Image: "rancher/klipper-helm", Args: []string{"install"},
						Env: []corev1.EnvVar{
							{Name: "NAME", Value: hc.GetName()},
							{Name: "VERSION", Value: spec("version")},
							{Name: "REPO", Value: spec("repo")},
							{Name: "CHART_NAMESPACE", Value: hc.GetNamespace()},
							{Name: "CHART", Value: chart},
							{Name: "TARGET_NAMESPACE", Value: target},
						},
					}},
				},
			},
		},
	}
}

// envOf is the helm container's env as one comparable string.
func envOf(job *batchv1.Job) string {
	for _, c := range job.Spec.Template.Spec.Containers {
		if c.Name == "helm" {
			return fmt.Sprint(c.Env)
		}
	}
	return ""
}

func jobComplete(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func condition(typ, status, reason, message string) any {
	c := map[string]any{"type": typ, "status": status}
	if reason != "" {
		c["reason"] = reason
	}
	if message != "" {
		c["message"] = message
	}
	return c
}

// setChartStatus writes status.jobName and status.conditions when they
// differ from what hc has.
func setChartStatus(ctx context.Context, dyn dynamic.Interface, hc *unstructured.Unstructured, jobName string, conds []any) error {
	oldName, _, _ := unstructured.NestedString(hc.Object, "status", "jobName")
	oldConds, _, _ := unstructured.NestedSlice(hc.Object, "status", "conditions")
	if oldName == jobName && fmt.Sprint(oldConds) == fmt.Sprint(conds) {
		return nil
	}
	u := hc.DeepCopy()
	status := map[string]any{"conditions": conds}
	if jobName != "" {
		status["jobName"] = jobName
	}
	u.Object["status"] = status
	_, err := dyn.Resource(helmChartGVR).Namespace(hc.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("updating status of HelmChart %s/%s: %w", hc.GetNamespace(), hc.GetName(), err)
	}
	return nil
}
