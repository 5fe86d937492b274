package manifests

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Phase orders the application of objects: a later phase needs what an
// earlier one created.
type Phase int

// Phases, in the order they are applied.
const (
	// PhaseFoundation holds the namespaces.
	PhaseFoundation Phase = iota
	// PhaseCharts holds the k3s HelmCharts; their charts install the CRDs.
	PhaseCharts
	// PhaseChartResources holds objects whose kind a chart defines; apply
	// them once the CRD is Established.
	PhaseChartResources
	// PhaseWorkloads holds the applications.
	PhaseWorkloads
)

var phaseNames = [...]string{"foundation", "charts", "chart-resources", "workloads"}

func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// Object is one rendered object and the phase it belongs to.
type Object struct {
	Phase  Phase
	Object *unstructured.Unstructured
}

// Key is "Kind/namespace/name" (namespace empty for cluster objects).
func (o Object) Key() string { return Key(o.Object) }

// Key names an object as "Kind/namespace/name".
func Key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// Set is the rendered cluster, in apply order.
type Set []Object

// Objects returns the objects in apply order, for the apply engine.
func (s Set) Objects() []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(s))
	for i, o := range s {
		out[i] = o.Object
	}
	return out
}

// Phase returns the objects of one phase, in order.
func (s Set) Phase(p Phase) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range s {
		if o.Phase == p {
			out = append(out, o.Object)
		}
	}
	return out
}

// Summary lists one "phase  Kind  namespace/name" line per object, for plan.
func (s Set) Summary() string {
	var b strings.Builder
	for _, o := range s {
		name := o.Object.GetName()
		if ns := o.Object.GetNamespace(); ns != "" {
			name = ns + "/" + name
		}
		fmt.Fprintf(&b, "%-16s %-22s %s\n", o.Phase, o.Object.GetKind(), name)
	}
	return b.String()
}

// YAML writes the objects as one multi-document YAML stream.
func YAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	for i, u := range objs {
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", Key(u), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// kindOrder sorts kinds within a phase so that what a kind refers to exists
// before it (a PVC's PersistentVolume, a pod's Service account of names).
var kindOrder = map[string]int{
	"Namespace": 0, "HelmChart": 1, "IPAddressPool": 2, "L2Advertisement": 3, "ClusterIssuer": 4, "Certificate": 5,
	"PersistentVolume": 6, "PersistentVolumeClaim": 7, "ConfigMap": 8, "Service": 9,
	"Deployment": 10, "StatefulSet": 11, "DaemonSet": 12, "CronJob": 13,
}

func (s Set) sort() {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i].Object, s[j].Object
		if s[i].Phase != s[j].Phase {
			return s[i].Phase < s[j].Phase
		}
		if ka, kb := kindOrder[a.GetKind()], kindOrder[b.GetKind()]; ka != kb {
			return ka < kb
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// builder collects typed objects and converts them to unstructured.
type builder struct {
	labels map[string]string
	set    Set
	err    error
}

// add converts obj (a k8s.io/api typed struct with TypeMeta set) and adds
// the common labels.
func (b *builder) add(p Phase, obj runtime.Object) {
	if b.err != nil {
		return
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		b.err = fmt.Errorf("converting %T: %w", obj, err)
		return
	}
	u := &unstructured.Unstructured{Object: m}
	// The converter writes "creationTimestamp: null" for a zero time; the
	// apiserver ignores it but it is noise in plan output and diffs.
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	// Desired state has no status, and an empty spec or strategy is the
	// converter's zero value, not something we ask for.
	unstructured.RemoveNestedField(u.Object, "status")
	for _, path := range [][]string{{"spec", "strategy"}, {"spec", "updateStrategy"}, {"spec", "jobTemplate", "metadata"}, {"spec"}} {
		if m, ok, _ := unstructured.NestedMap(u.Object, path...); ok && len(m) == 0 {
			unstructured.RemoveNestedField(u.Object, path...)
		}
	}
	removeNullTimestamps(u.Object)
	b.addUnstructured(p, u)
}

// addUnstructured adds an object built as a map (kinds without Go types
// here, and every typed object once converted), with the common labels.
func (b *builder) addUnstructured(p Phase, u *unstructured.Unstructured) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range b.labels {
		labels[k] = v
	}
	u.SetLabels(labels)
	b.set = append(b.set, Object{Phase: p, Object: u})
}

// removeNullTimestamps drops the "creationTimestamp: null" and empty
// "status: {}" the converter leaves in objects and their templates.
func removeNullTimestamps(v any) {
	switch t := v.(type) {
	case map[string]any:
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		if st, ok := t["status"].(map[string]any); ok && len(st) == 0 {
			delete(t, "status")
		}
		for _, c := range t {
			removeNullTimestamps(c)
		}
	case []any:
		for _, c := range t {
			removeNullTimestamps(c)
		}
	}
}
