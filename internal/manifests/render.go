package manifests

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
)

// Labels every rendered object carries.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	// ManagedBy is the value of LabelManagedBy: the apply engine only ever
	// prunes objects that carry it.
	ManagedBy = "nodeagent"
)

// namespaces groups the workloads; see the package doc.
var namespaces = map[string]string{
	"nginx-proxy-manager":     "network",
	"pihole":                  "network",
	"beszel":                  "monitoring",
	"beszel-agent":            "monitoring",
	"immich-server":           "immich",
	"immich-machine-learning": "immich",
	"immich-postgres":         "immich",
	"immich-redis":            "immich",
	"postgres-backup":         "immich",
	"home-assistant":          "home-automation",
	"filebrowser":             "files",
	"restic-backup":           "backup",
}

// app is one enabled workload being rendered.
type app struct {
	name string
	ns   string
	w    config.Workload
}

func (a app) replicas() int32 {
	if a.w.Replicas > 0 {
		return int32(a.w.Replicas)
	}
	return 1
}

// meta is the ObjectMeta of an object of app a.
func (a app) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: a.ns, Labels: a.selector()}
}

func (a app) selector() map[string]string { return map[string]string{LabelName: a.name} }

// renderer holds the state of one Render call.
type renderer struct {
	c  *config.Cluster
	in Inputs
	b  *builder
}

// Inputs are what rendering needs besides the cluster file: bytes read
// from the node by the caller, so that Render itself reads no file.
type Inputs struct {
	// ChartContent holds, by chart name (HelmComponent.Chart), the .tgz of
	// each enabled platform component with a chartFile
	// (chartfile.ForCluster reads and checks them).
	ChartContent map[string][]byte
	// WithoutChartContent renders such a component's HelmChart without its
	// content, for an analysis of the set that never applies it (capacity).
	WithoutChartContent bool
}

var appRenderers = map[string]func(*renderer, app){
	"nginx-proxy-manager":     (*renderer).nginxProxyManager,
	"pihole":                  (*renderer).pihole,
	"beszel":                  (*renderer).beszel,
	"beszel-agent":            (*renderer).beszelAgent,
	"immich-server":           (*renderer).immichServer,
	"immich-machine-learning": (*renderer).immichML,
	"immich-postgres":         (*renderer).immichPostgres,
	"immich-redis":            (*renderer).immichRedis,
	"home-assistant":          (*renderer).homeAssistant,
	"filebrowser":             (*renderer).filebrowser,
	"restic-backup":           (*renderer).resticBackup,
	"postgres-backup":         (*renderer).postgresBackup,
}

// Render returns every object of the cluster in apply order. Disabled
// platform components and workloads render nothing. A cluster whose
// platform names a chartFile needs RenderWith and the file's content.
func Render(c *config.Cluster) (Set, error) { return RenderWith(c, Inputs{}) }

// RenderWith is Render with the inputs read from the node.
func RenderWith(c *config.Cluster, in Inputs) (Set, error) {
	r := &renderer{c: c, in: in, b: &builder{labels: map[string]string{
		LabelManagedBy: ManagedBy,
		LabelPartOf:    c.Metadata.Name,
	}}}
	used := map[string]bool{}
	r.platform(used)
	for _, name := range c.EnabledWorkloads() {
		fn, ok := appRenderers[name]
		if !ok {
			return nil, fmt.Errorf("rendering workload %q: no renderer for it", name)
		}
		a := app{name: name, ns: namespaces[name], w: c.Workloads[name]}
		used[a.ns] = true
		fn(r, a)
	}
	r.namespaces(used)
	if r.b.err != nil {
		return nil, fmt.Errorf("rendering cluster %s: %w", c.Metadata.Name, r.b.err)
	}
	r.b.set.sort()
	return r.b.set, nil
}

// namespaces renders the namespaces that rendered objects live in, except
// the ones k3s creates itself.
func (r *renderer) namespaces(used map[string]bool) {
	names := make([]string, 0, len(used))
	for ns := range used {
		if ns != "" && ns != "kube-system" && ns != "default" {
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	for _, ns := range names {
		r.b.add(PhaseFoundation, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns},
		})
	}
}

// fail records the first rendering error.
func (r *renderer) fail(format string, args ...any) {
	if r.b.err == nil {
		r.b.err = fmt.Errorf(format, args...)
	}
}
