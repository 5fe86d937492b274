package apply

import (
	"context"
	"fmt"

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

// applyOne server-side applies u. The resourceVersion read before the apply
// tells created / configured / unchanged apart: an apply that changes
// nothing leaves it as it was.
func (e *Engine) applyOne(ctx context.Context, u *unstructured.Unstructured, known liveVersions) (res Result, deferred bool) {
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
	before, err := e.liveVersion(ctx, ri, gvr, u, known)
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, false
	}
	data, err := u.MarshalJSON()
	if err != nil {
		res.Outcome, res.Reason = Failed, fmt.Sprintf("encoding: %v", err)
		return res, false
	}
	force := e.force.has(u)
	after, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if list, ok := conflicts(err); ok {
		res.Outcome, res.Conflicts, res.Reason = Conflict, list, conflictReason(list)
		return res, false
	}
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, false
	}
	res.UID = string(after.GetUID())
	switch {
	case before == "":
		res.Outcome = Created
	case before == after.GetResourceVersion():
		res.Outcome = Unchanged
	default:
		res.Outcome = Configured
	}
	return res, false
}

// liveVersion returns the object's resourceVersion, "" when it does not
// exist, from the step's prefetch when it has it.
func (e *Engine) liveVersion(ctx context.Context, ri dynamic.ResourceInterface, gvr schema.GroupVersionResource,
	u *unstructured.Unstructured, known liveVersions) (string, error) {
	if rv, ok := known.lookup(gvr, u.GetNamespace(), u.GetName()); ok {
		return rv, nil
	}
	live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return live.GetResourceVersion(), nil
	case apierrors.IsNotFound(err):
		return "", nil
	default:
		return "", fmt.Errorf("reading live object: %w", err)
	}
}
