package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// A chart's kinds are usable only once k3s's helm controller has installed
// the chart: its CRDs are served a little before, and the chart's admission
// webhooks (MetalLB's, cert-manager's, with failurePolicy Fail) refuse every
// object of those kinds until the chart's controller answers. So objects of
// a group listed in Options.Charts wait for the chart's install Job to
// succeed, then for its webhooks to answer; both waits leave the objects
// pending, like a kind not served yet, never failed.

var helmChartResource = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

// installJobName is the Job helm-controller runs to install or upgrade a
// chart, in the HelmChart's namespace (jobName in helm-controller's
// pkg/controllers/chart/chart.go).
func installJobName(chart string) string { return "helm-install-" + chart }

// chartOf returns the HelmChart whose install brings u's kind.
func (e *Engine) chartOf(u *unstructured.Unstructured) (types.NamespacedName, bool) {
	chart, ok := e.opts.Charts[u.GroupVersionKind().Group]
	return chart, ok
}

// installs remembers, for one run, the charts seen installed: a chart's
// objects then cost no more reads in that run.
type installs struct {
	mu   sync.Mutex
	done map[types.NamespacedName]bool
}

// check reports whether chart is installed; when it is not, outcome is
// Pending (the install runs) or Failed (it gave up), and reason says why.
func (in *installs) check(ctx context.Context, e *Engine, chart types.NamespacedName) (ok bool, outcome Outcome, reason string) {
	in.mu.Lock()
	done := in.done[chart]
	in.mu.Unlock()
	if done {
		return true, "", ""
	}
	outcome, reason = e.chartInstall(ctx, chart)
	if outcome != "" {
		return false, outcome, reason
	}
	in.mu.Lock()
	if in.done == nil {
		in.done = map[types.NamespacedName]bool{}
	}
	in.done[chart] = true
	in.mu.Unlock()
	return true, "", ""
}

// chartInstall reads the HelmChart and its install Job as helm-controller
// leaves them: the Job helm-install-<chart> whose Complete condition is
// True has installed the chart. A Job made for an older spec (another
// version or repo in its helm container's VERSION and REPO) does not count:
// helm-controller replaces it. The values are not compared (helm-controller
// hashes them with the Secrets and HelmChartConfigs into the Job's
// helmcharts.helm.cattle.io/configHash annotation, too much to redo here).
// An empty outcome means installed.
func (e *Engine) chartInstall(ctx context.Context, chart types.NamespacedName) (Outcome, string) {
	hc, err := e.dyn.Resource(helmChartResource).Namespace(chart.Namespace).Get(ctx, chart.Name, metav1.GetOptions{})
	if err != nil {
		return Pending, fmt.Sprintf("waiting for chart %s: reading HelmChart %s: %v", chart.Name, chart, err)
	}
	if msg, failed := helmChartFailed(hc); failed {
		return Failed, fmt.Sprintf("chart %s failed to install: %s", chart.Name, msg)
	}
	jobKey := chart.Namespace + "/" + installJobName(chart.Name)
	job, err := e.cs.BatchV1().Jobs(chart.Namespace).Get(ctx, installJobName(chart.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Pending, fmt.Sprintf("waiting for chart %s's install job %s to be created", chart.Name, jobKey)
	}
	if err != nil {
		return Pending, fmt.Sprintf("waiting for chart %s: reading job %s: %v", chart.Name, jobKey, err)
	}
	if stale := staleJob(hc, job); stale != "" {
		return Pending, fmt.Sprintf("waiting for chart %s's install job %s to be replaced: %s", chart.Name, jobKey, stale)
	}
	if c := jobCondition(job, batchv1.JobFailed); c != nil {
		return Failed, fmt.Sprintf("chart %s's install job %s failed: %s", chart.Name, jobKey, c.Message)
	}
	if jobCondition(job, batchv1.JobComplete) == nil {
		return Pending, fmt.Sprintf("waiting for chart %s's install job %s to finish", chart.Name, jobKey)
	}
	return "", ""
}

// helmChartFailed reads the Failed condition helm-controller sets when it
// cannot make the Job (an unsupported helmVersion) or the Job gave up.
func helmChartFailed(hc *unstructured.Unstructured) (string, bool) {
	conds, _, _ := unstructured.NestedSlice(hc.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Failed" && m["status"] == "True" {
			msg, _ := m["message"].(string)
			return msg, true
		}
	}
	return "", false
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// staleJob says how job differs from what the HelmChart asks for, by the
// VERSION and REPO helm-controller puts in the helm container's env; a
// variable the job does not carry is not compared.
func staleJob(hc *unstructured.Unstructured, job *batchv1.Job) string {
	want := map[string]string{}
	want["VERSION"], _, _ = unstructured.NestedString(hc.Object, "spec", "version")
	want["REPO"], _, _ = unstructured.NestedString(hc.Object, "spec", "repo")
	for _, c := range job.Spec.Template.Spec.Containers {
		for _, env := range c.Env {
			if w, ok := want[env.Name]; ok && env.Value != w {
				return fmt.Sprintf("it has %s=%q, the chart asks for %q", env.Name, env.Value, w)
			}
		}
	}
	return ""
}

// unreachableWebhook returns the name of the admission webhook the
// apiserver could not call: no endpoints, connection refused, a timeout or
// an answer that is no AdmissionReview all come back as an InternalError
// saying `failed calling webhook "<name>": ...` (k8s.io/apiserver's
// ErrCallingWebhook). A webhook that answers and denies is a Forbidden or
// Invalid error saying `admission webhook "<name>" denied the request`,
// which is a real fault of the object and stays a failure.
func unreachableWebhook(err error) (string, bool) {
	if err == nil || !apierrors.IsInternalError(err) {
		return "", false
	}
	_, rest, ok := strings.Cut(err.Error(), `failed calling webhook "`)
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, `"`)
	return name, ok
}
