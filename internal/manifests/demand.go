package manifests

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
func Pods(set Set) ([]Pod, error) {
	localClaims := map[string]bool{}
	for _, o := range set.Phase(PhaseWorkloads) {
		if o.GetKind() == "PersistentVolumeClaim" {
			sc, _, _ := unstructuredString(o.Object, "spec", "storageClassName")
			localClaims[o.GetNamespace()+"/"+o.GetName()] = sc == localPath
		}
	}
	var out []Pod
	for _, o := range set.Phase(PhaseWorkloads) {
		var (
			tmpl     corev1.PodTemplateSpec
			replicas int32 = 1
			base           = Pod{Workload: o.GetLabels()[LabelName]}
			into     any
		)
		switch o.GetKind() {
		case "Deployment":
			into = &appsv1.Deployment{}
		case "StatefulSet":
			into = &appsv1.StatefulSet{}
		case "DaemonSet":
			into = &appsv1.DaemonSet{}
			base.DaemonSet = true
		case "CronJob":
			into = &batchv1.CronJob{}
			base.Transient = true
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
			return nil, fmt.Errorf("reading %s: %w", Key(o), err)
		}
		switch w := into.(type) {
		case *appsv1.Deployment:
			tmpl, replicas = w.Spec.Template, derefReplicas(w.Spec.Replicas)
		case *appsv1.StatefulSet:
			tmpl, replicas = w.Spec.Template, derefReplicas(w.Spec.Replicas)
			for _, c := range w.Spec.VolumeClaimTemplates {
				base.Pinned = base.Pinned || (c.Spec.StorageClassName != nil && *c.Spec.StorageClassName == localPath)
			}
		case *appsv1.DaemonSet:
			tmpl = w.Spec.Template
		case *batchv1.CronJob:
			tmpl = w.Spec.JobTemplate.Spec.Template
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
				if e.Key == LabelHostname && e.Operator == corev1.NodeSelectorOpIn {
					p.Prefer = append(p.Prefer, e.Values...)
				}
			}
		}
	}
	p.Spread = spec.Affinity.PodAntiAffinity != nil
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur, ok = m[f]
		if !ok {
			return "", false, nil
		}
	}
	s, ok := cur.(string)
	return s, ok, nil
}
