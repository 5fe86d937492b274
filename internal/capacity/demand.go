package capacity

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nodeagent/nodeagent/internal/manifests"
)

// Usage is an amount of memory (bytes) and CPU (millicores).
type Usage struct {
	Memory int64
	CPU    int64
}

// Add returns u+v.
func (u Usage) Add(v Usage) Usage { return Usage{u.Memory + v.Memory, u.CPU + v.CPU} }

// Sub returns u-v.
func (u Usage) Sub(v Usage) Usage { return Usage{u.Memory - v.Memory, u.CPU - v.CPU} }

// Fits reports whether u fits into capacity.
func (u Usage) Fits(capacity Usage) bool { return u.Memory <= capacity.Memory && u.CPU <= capacity.CPU }

// Pod is one pod the rendered objects ask for, with what placement needs.
type Pod struct {
	Workload string
	// Replica numbers the pods of one workload from 1.
	Replica  int
	Requests Usage
	// Require is the HARD node labels (required node affinity).
	Require map[string]string
	// Prefer is the SOFT nodes, most preferred first.
	Prefer []string
	// Spread is set when replicas should avoid sharing a node.
	Spread bool
	// DaemonSet pods run on every node that tolerates them and never move.
	DaemonSet   bool
	Tolerations []corev1.Toleration
	// Pinned is set when the pod keeps data on a local-path volume: the
	// volume binds to the node the pod first ran on, so it cannot move.
	Pinned bool
	// Transient marks CronJob pods: they run briefly and are not counted in
	// steady-state totals.
	Transient bool
}

// Name is "workload" or "workload#n" for replicated workloads.
func (p Pod) Name() string {
	if p.Replica > 1 || p.Spread {
		return fmt.Sprintf("%s#%d", p.Workload, p.Replica)
	}
	return p.Workload
}

// Pods reads the pods that the rendered workloads request, in render order.
func Pods(set manifests.Set) ([]Pod, error) {
	localClaims := map[string]bool{}
	for _, o := range set.Phase(manifests.PhaseWorkloads) {
		if o.GetKind() == "PersistentVolumeClaim" {
			sc, _, _ := unstructured.NestedString(o.Object, "spec", "storageClassName")
			localClaims[o.GetNamespace()+"/"+o.GetName()] = sc == manifests.LocalPathClass
		}
	}
	var out []Pod
	for _, o := range set.Phase(manifests.PhaseWorkloads) {
		base := Pod{Workload: o.GetLabels()[manifests.LabelName]}
		tmpl, replicas, ok, err := podTemplateOf(o, &base)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", manifests.Key(o), err)
		}
		if !ok {
			continue
		}
		describePod(&base, tmpl.Spec, o.GetNamespace(), localClaims)
		for i := 1; i <= int(replicas); i++ {
			p := base
			p.Replica = i
			out = append(out, p)
		}
	}
	return out, nil
}

// podTemplateOf returns the pod template and replica count of a workload
// object and marks the kind's traits on p; ok is false for other kinds.
func podTemplateOf(o *unstructured.Unstructured, p *Pod) (corev1.PodTemplateSpec, int32, bool, error) {
	conv := runtime.DefaultUnstructuredConverter
	switch o.GetKind() {
	case "Deployment":
		var d appsv1.Deployment
		err := conv.FromUnstructured(o.Object, &d)
		return d.Spec.Template, derefReplicas(d.Spec.Replicas), true, err
	case "StatefulSet":
		var s appsv1.StatefulSet
		err := conv.FromUnstructured(o.Object, &s)
		for _, c := range s.Spec.VolumeClaimTemplates {
			p.Pinned = p.Pinned || (c.Spec.StorageClassName != nil && *c.Spec.StorageClassName == manifests.LocalPathClass)
		}
		return s.Spec.Template, derefReplicas(s.Spec.Replicas), true, err
	case "DaemonSet":
		var d appsv1.DaemonSet
		err := conv.FromUnstructured(o.Object, &d)
		p.DaemonSet = true
		return d.Spec.Template, 1, true, err
	case "CronJob":
		var c batchv1.CronJob
		err := conv.FromUnstructured(o.Object, &c)
		p.Transient = true
		return c.Spec.JobTemplate.Spec.Template, 1, true, err
	}
	return corev1.PodTemplateSpec{}, 0, false, nil
}

func derefReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// describePod fills requests and placement from a pod spec.
func describePod(p *Pod, spec corev1.PodSpec, ns string, localClaims map[string]bool) {
	for _, c := range spec.Containers {
		p.Requests.Memory += c.Resources.Requests.Memory().Value()
		p.Requests.CPU += c.Resources.Requests.Cpu().MilliValue()
	}
	p.Tolerations = spec.Tolerations
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil && localClaims[ns+"/"+v.PersistentVolumeClaim.ClaimName] {
			p.Pinned = true
		}
	}
	if spec.Affinity == nil {
		return
	}
	if na := spec.Affinity.NodeAffinity; na != nil {
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil && len(req.NodeSelectorTerms) > 0 {
			p.Require = map[string]string{}
			for _, e := range req.NodeSelectorTerms[0].MatchExpressions {
				if e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
					p.Require[e.Key] = e.Values[0]
				}
			}
		}
		prefs := append([]corev1.PreferredSchedulingTerm(nil), na.PreferredDuringSchedulingIgnoredDuringExecution...)
		sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].Weight > prefs[j].Weight })
		for _, t := range prefs {
			for _, e := range t.Preference.MatchExpressions {
				if e.Key == manifests.LabelHostname && e.Operator == corev1.NodeSelectorOpIn {
					p.Prefer = append(p.Prefer, e.Values...)
				}
			}
		}
	}
	p.Spread = spec.Affinity.PodAntiAffinity != nil
}
