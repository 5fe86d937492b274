package apply

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// noopYAML has what makes "already applied" hard to judge: fields the
// apiserver defaults (protocol, imagePullPolicy, strategy), quantities it
// rewrites (1024Mi → 1Gi, 0.5 → 500m), lists keyed by name and numbers.
const noopYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS, labels: {tier: web}}
data: {mode: homelab, level: "3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: labelled, namespace: NS, labels: {tier: web}}
data: {mode: homelab}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS, labels: {tier: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        args: [--port, "8080"]
        ports: [{containerPort: 8080, name: http}]
        resources:
          requests: {cpu: 0.5, memory: 1024Mi}
          limits: {memory: 2Gi}
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS, labels: {tier: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`

// requestLog records the requests an Engine makes, as "VERB path".
type requestLog struct {
	mu   sync.Mutex
	list []string
}

func (l *requestLog) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.list = append(l.list, req.Method+" "+req.URL.Path)
		l.mu.Unlock()
		return next.RoundTrip(req)
	})
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.list
	l.list = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// countingEngine is testEngine whose requests are recorded in log.
func countingEngine(t *testing.T, srv *apiserver.Server, inv string, opts Options, log *requestLog) *Engine {
	t.Helper()
	cfg := srv.RestConfig()
	cfg.Wrap(log.RoundTrip)
	opts.Inventory = types.NamespacedName{Namespace: "kube-system", Name: inv}
	e, err := New(cfg, opts, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNoopPassWritesNothing re-applies objects that are already applied:
// every one is unchanged, no request writes, and the reads are one list per
// kind plus the inventory.
func TestNoopPassWritesNothing(t *testing.T) {
	srv := kube.Get(t)
	ns := srv.CreateNamespace(t)
	set := objects(t, ns, noopYAML)
	var log requestLog
	e := countingEngine(t, srv, "inv-"+ns, Options{}, &log)
	if r := mustApply(t, e, set); r.Counts()[Created] != len(set) {
		t.Fatalf("first apply: %s %v", r.Summary(), r.Err())
	}
	log.take()
	r := mustApply(t, e, set)
	if n := r.Counts()[Unchanged]; n != len(set) {
		t.Errorf("no-op pass: %s, want %d unchanged", r.Summary(), len(set))
	}
	requests := log.take()
	var writes []string
	for _, req := range requests {
		if req[:4] != "GET " {
			writes = append(writes, req)
		}
	}
	if len(writes) > 0 {
		t.Errorf("no-op pass wrote %d times: %q", len(writes), writes)
	}
	// ConfigMap, Deployment, Service and the inventory ConfigMap.
	if len(requests) > 4 {
		t.Errorf("no-op pass made %d requests, want at most 4 (a list per kind, the inventory): %q", len(requests), requests)
	}
	for _, res := range r.Results {
		if res.UID == "" {
			t.Errorf("%s: no UID in the result of an unchanged object", res.Key)
		}
	}
}

// TestDriftRepairedOnNextPass changes fields nodeagent sets with another
// field manager, as kubectl edit does, and checks the next pass notices
// each one (repairs it where apply.forceConflicts allows, reports the
// conflict elsewhere) while a field someone else added stays.
func TestDriftRepairedOnNextPass(t *testing.T) {
	srv := kube.Get(t)
	ns := srv.CreateNamespace(t)
	ctx := context.Background()
	set := objects(t, ns, noopYAML)
	force := []string{"ConfigMap/" + ns + "/settings", "Deployment/" + ns + "/web", "ConfigMap/" + ns + "/labelled"}
	e := testEngine(t, srv, "inv-"+ns, Options{ForceConflicts: force})
	mustApply(t, e, set)
	if r := mustApply(t, e, set); r.Counts()[Unchanged] != len(set) {
		t.Fatalf("second pass: %s", r.Summary())
	}

	cs := srv.Client()
	edit := metav1.UpdateOptions{FieldManager: "kubectl-edit"}
	cm := getConfigMap(t, cs.CoreV1().ConfigMaps(ns), "settings")
	cm.Data["mode"] = "edited"
	cm.Data["extra"] = "someone else's"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, edit); err != nil {
		t.Fatal(err)
	}
	labelled := getConfigMap(t, cs.CoreV1().ConfigMaps(ns), "labelled")
	delete(labelled.Labels, LabelManagedBy)
	labelled.Labels["tier"] = "db"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, labelled, edit); err != nil {
		t.Fatal(err)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := int32(5)
	d.Spec.Replicas = &replicas
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, edit); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Labels["tier"] = "edited"
	if _, err := cs.CoreV1().Services(ns).Update(ctx, svc, edit); err != nil {
		t.Fatal(err)
	}

	r := mustApply(t, e, set)
	checkOutcomes(t, r, map[string]Outcome{
		"ConfigMap/" + ns + "/settings": Configured,
		"ConfigMap/" + ns + "/labelled": Configured,
		"Deployment/" + ns + "/web":     Configured,
		// Not in forceConflicts: the edit is noticed and reported.
		"Service/" + ns + "/web": Conflict,
	})
	cm = getConfigMap(t, cs.CoreV1().ConfigMaps(ns), "settings")
	if cm.Data["mode"] != "homelab" || cm.Data["extra"] != "someone else's" {
		t.Errorf("settings after the pass: %v, want mode=homelab and extra kept", cm.Data)
	}
	labelled = getConfigMap(t, cs.CoreV1().ConfigMaps(ns), "labelled")
	if labelled.Labels[LabelManagedBy] != ManagedBy || labelled.Labels["tier"] != "web" {
		t.Errorf("labelled's labels after the pass: %v", labelled.Labels)
	}
	d, err = cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" {
		t.Errorf("deployment after the pass: replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	if r := mustApply(t, e, set); r.Counts()[Unchanged] != len(set)-1 {
		t.Errorf("pass after the repair: %s, want all but the conflicting Service unchanged", r.Summary())
	}
}

func getConfigMap(t *testing.T, cms interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.ConfigMap, error)
}, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := cms.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading configmap %s: %v", name, err)
	}
	return cm
}

// TestDroppedFieldRemovedOnNextPass stops rendering a value nodeagent
// applied before: the live object still holds everything desired holds,
// but the apply must run to remove the value.
func TestDroppedFieldRemovedOnNextPass(t *testing.T) {
	srv := kube.Get(t)
	ns := srv.CreateNamespace(t)
	e := testEngine(t, srv, "inv-"+ns, Options{})
	mustApply(t, e, objects(t, ns, noopYAML))
	less := objects(t, ns, strings.Replace(noopYAML, `data: {mode: homelab, level: "3"}`, `data: {mode: homelab}`, 1))
	r := mustApply(t, e, less)
	if got := outcomes(r)["ConfigMap/"+ns+"/settings"]; got != Configured {
		t.Errorf("settings: %s, want configured", got)
	}
	cm := getConfigMap(t, srv.Client().CoreV1().ConfigMaps(ns), "settings")
	if _, ok := cm.Data["level"]; ok {
		t.Errorf("settings still holds the dropped value: %v", cm.Data)
	}
}
