package apply

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// objKey identifies an object independently of its API version, so moving a
// rendered object to a newer version is not seen as "removed, prune it".
type objKey struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func keyOf(u *unstructured.Unstructured) objKey {
	gvk := u.GroupVersionKind()
	return objKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// resource returns the client for u's kind, or deferred=true when the kind
// is not served (yet).
func (e *Engine) resource(gvk schema.GroupVersionKind, namespace string) (ri dynamic.ResourceInterface, deferred bool, err error) {
	ri, _, deferred, err = e.mappedResource(gvk, namespace)
	return ri, deferred, err
}

func (e *Engine) mappedResource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, schema.GroupVersionResource, bool, error) {
	m, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return nil, schema.GroupVersionResource{}, true, err
	}
	if err != nil {
		return nil, schema.GroupVersionResource{}, false, fmt.Errorf("mapping %s: %w", gvk, err)
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		if namespace != "" {
			return nil, m.Resource, false, fmt.Errorf("%s is cluster-scoped but metadata.namespace is %q", gvk.Kind, namespace)
		}
		return e.dyn.Resource(m.Resource), m.Resource, false, nil
	}
	if namespace == "" {
		// Defaulting it as kubectl does would make the inventory key
		// differ from the rendered key; ask for it instead.
		return nil, m.Resource, false, fmt.Errorf("%s is namespaced but metadata.namespace is empty", gvk.Kind)
	}
	return e.dyn.Resource(m.Resource).Namespace(namespace), m.Resource, false, nil
}

// applyOne server-side applies u unless the live object already is what
// the apply would make it (upToDate) and the last apply of u did not fail.
// The resourceVersion read before the apply tells created / configured /
// unchanged apart: an apply that changes nothing leaves it as it was.
// An object of a chart's kinds is applied only once the chart is installed,
// and a webhook of the chart that cannot be called defers it (chartwait.go).
func (e *Engine) applyOne(ctx context.Context, u *unstructured.Unstructured, known liveObjects, charts *installs) (res Result, deferred bool) {
	res = newResult(u)
	ri, gvr, deferred, err := e.mappedResource(u.GroupVersionKind(), u.GetNamespace())
	if deferred {
		res.Outcome, res.Reason = Pending, fmt.Sprintf("kind %s is not served yet", u.GroupVersionKind())
		return res, true
	}
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, false
	}
	live, err := e.liveObject(ctx, ri, gvr, u, known)
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, false
	}
	if live != nil && !e.perObject && !e.retry.has(keyOf(u)) && upToDate(u, live) {
		res.Outcome, res.UID = Unchanged, string(live.GetUID())
		return res, false
	}
	chart, gated := e.chartOf(u)
	if gated {
		if ok, outcome, reason := charts.check(ctx, e, chart); !ok {
			res.Outcome, res.Reason = outcome, reason
			return res, outcome == Pending
		}
	}
	res, err = e.serverSideApply(ctx, ri, u, live)
	if hook, ok := unreachableWebhook(err); ok && gated {
		res.Outcome, res.Reason = Pending, fmt.Sprintf("waiting for chart %s's webhook %s", chart.Name, hook)
		return res, true
	}
	return res, false
}

// serverSideApply returns, beside the result, the apiserver's error when
// the apply failed.
func (e *Engine) serverSideApply(ctx context.Context, ri dynamic.ResourceInterface, u, live *unstructured.Unstructured) (Result, error) {
	res := newResult(u)
	data, err := u.MarshalJSON()
	if err != nil {
		res.Outcome, res.Reason = Failed, fmt.Sprintf("encoding: %v", err)
		return res, nil
	}
	force := e.force.has(u)
	after, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if list, ok := conflicts(err); ok {
		res.Outcome, res.Conflicts, res.Reason = Conflict, list, conflictReason(list)
		return res, nil
	}
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, err
	}
	res.UID = string(after.GetUID())
	switch {
	case live == nil:
		res.Outcome = Created
	case live.GetResourceVersion() == after.GetResourceVersion():
		res.Outcome = Unchanged
	default:
		res.Outcome = Configured
	}
	return res, nil
}

// liveObject returns the live object, nil when it does not exist, from the
// step's prefetch when it has it.
func (e *Engine) liveObject(ctx context.Context, ri dynamic.ResourceInterface, gvr schema.GroupVersionResource,
	u *unstructured.Unstructured, known liveObjects) (*unstructured.Unstructured, error) {
	if live, ok := known.lookup(gvr, u.GetNamespace(), u.GetName()); ok {
		return live, nil
	}
	live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return live, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("reading live object: %w", err)
	}
}

// retrySet holds the objects whose last apply did not succeed: they are
// applied on the next run whatever the live object looks like.
type retrySet struct {
	mu   sync.Mutex
	keys map[objKey]bool
}

func (s *retrySet) has(k objKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[k]
}

// note records res's outcome for the next run.
func (s *retrySet) note(res Result) {
	k := objKey{Group: res.GVK.Group, Kind: res.GVK.Kind, Namespace: res.Namespace, Name: res.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[objKey]bool{}
	}
	if applied(res.Outcome) {
		delete(s.keys, k)
	} else {
		s.keys[k] = true
	}
}
