package apply

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// kube is one real kube-apiserver shared by this package's tests; each test
// works in its own namespaces and inventory ConfigMap.
var kube apiserver.Shared

func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

// testEngine returns an Engine on srv whose inventory is private to the
// test (tests share one apiserver).
func testEngine(t *testing.T, srv *apiserver.Server, inv string, opts Options) *Engine {
	t.Helper()
	opts.Inventory = types.NamespacedName{Namespace: "kube-system", Name: inv}
	if opts.KindTimeout == 0 {
		opts.KindTimeout = time.Second
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	e, err := New(srv.RestConfig(), opts, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// objects decodes a multi-document YAML with every "NS" replaced by ns.
func objects(t testing.TB, ns, yaml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decodeDocuments([]byte(strings.ReplaceAll(yaml, "NS", ns)))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// uniqueName returns a name free on the shared apiserver: a namespace is
// created for it (and left, see apiserver.CreateNamespace) so it is unique.
func uniqueName(t *testing.T, srv *apiserver.Server) string {
	t.Helper()
	return "na-" + srv.CreateNamespace(t)
}

func mustApply(t *testing.T, e *Engine, objs []*unstructured.Unstructured) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := e.Apply(ctx, Set{Builtin: objs})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// outcomes maps Key to outcome over results and prune results.
func outcomes(r *Report) map[string]Outcome {
	out := map[string]Outcome{}
	for _, res := range append(append([]Result{}, r.Results...), r.Pruned...) {
		out[res.Key] = res.Outcome
	}
	return out
}

func checkOutcomes(t *testing.T, r *Report, want map[string]Outcome) {
	t.Helper()
	if diff := cmp.Diff(want, outcomes(r)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s\nreport: %+v", diff, r)
	}
}

// liveRVs reads the resourceVersion of every object of objs.
func liveRVs(t *testing.T, e *Engine, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range objs {
		ri, _, err := e.resource(u.GroupVersionKind(), u.GetNamespace())
		if err != nil {
			t.Fatalf("%s: %v", Key(u), err)
		}
		live, err := ri.Get(context.Background(), u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", Key(u), err)
		}
		out[Key(u)] = live.GetResourceVersion()
	}
	return out
}

// crdYAML is a CRD of kind Widget in a group unique to the test.
func crdYAML(group string) string {
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
spec:
  group: ` + group + `
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
}
