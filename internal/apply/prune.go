package apply

import (
	"context"
	"fmt"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// pruneCandidates returns the inventory entries that desired no longer
// holds and no server's overlay record holds, namespaced objects first so a
// namespace goes after its content.
func pruneCandidates(inv *inventory, desired []*unstructured.Unstructured) []Entry {
	want := make(map[objKey]bool, len(desired))
	for _, u := range desired {
		want[keyOf(u)] = true
	}
	var out []Entry
	for k, en := range inv.entries {
		if !want[k] && len(inv.overlayHolders(k)) == 0 {
			out = append(out, en)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Namespace == "") != (out[j].Namespace == "") {
			return out[i].Namespace != ""
		}
		return out[i].String() < out[j].String()
	})
	return out
}

// prune deletes the objects nodeagent created that are no longer rendered.
// Entries it resolves (deleted, gone, or no longer nodeagent's) leave inv.
func (e *Engine) prune(ctx context.Context, inv *inventory, desired []*unstructured.Unstructured) []Result {
	var results []Result
	waiting := inv.unrecorded(e.servers())
	for _, en := range pruneCandidates(inv, desired) {
		if en.fromOverlay() && len(waiting) > 0 {
			// A server that never recorded its overlay may hold it.
			gv, _ := schema.ParseGroupVersion(en.APIVersion)
			res := Result{Key: en.String(), GVK: gv.WithKind(en.Kind), Namespace: en.Namespace, Name: en.Name, UID: en.UID, Outcome: Kept,
				Reason: fmt.Sprintf("in no recorded overlay, but %v have not recorded theirs yet: pruned once they have applied",
					waiting)}
			results = append(results, res)
			e.logResult(res)
			continue
		}
		res, drop := e.pruneOne(ctx, en)
		if drop {
			delete(inv.entries, en.key())
		}
		if res.Outcome != "" {
			results = append(results, res)
			e.logResult(res)
		}
	}
	return results
}

// servers is every server whose overlay counts: Options.Servers and this one.
func (e *Engine) servers() []string {
	if slices.Contains(e.opts.Servers, e.opts.Server) {
		return e.opts.Servers
	}
	return append(slices.Clone(e.opts.Servers), e.opts.Server)
}

// pruneOne deletes one entry's object if it is still the one nodeagent
// created (same UID, managed-by label). Namespaces and CRDs are kept:
// deleting them deletes everything in them, including what people created.
// So are volumes and their claims, like a StatefulSet's by default: an app
// whose storage changed shape leaves its old data there, for the owner to
// copy over or delete (local-path deletes the data with the claim).
func (e *Engine) pruneOne(ctx context.Context, en Entry) (res Result, drop bool) {
	gv, err := schema.ParseGroupVersion(en.APIVersion)
	if err != nil {
		return Result{Key: en.String(), Outcome: Failed, Reason: err.Error()}, false
	}
	gvk := gv.WithKind(en.Kind)
	res = Result{Key: en.String(), GVK: gvk, Namespace: en.Namespace, Name: en.Name, UID: en.UID}
	if en.Kind == "Namespace" && gvk.Group == "" || en.Kind == "CustomResourceDefinition" {
		res.Outcome, res.Reason = Kept, "no longer rendered; not deleted because deleting it deletes everything in it: delete it by hand"
		return res, false
	}
	ri, _, err := e.resource(gvk, en.Namespace)
	if err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res, false
	}
	live, err := ri.Get(ctx, en.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Result{}, true
	case err != nil:
		res.Outcome, res.Reason = Failed, fmt.Sprintf("reading live object: %v", err)
		return res, false
	case string(live.GetUID()) != en.UID:
		res.Outcome, res.Reason = Kept, "recreated by someone else (UID differs); no longer nodeagent's"
		return res, true
	case live.GetLabels()[LabelManagedBy] != ManagedBy:
		res.Outcome, res.Reason = Kept, "label "+LabelManagedBy+"="+ManagedBy+" was removed; no longer nodeagent's"
		return res, true
	case live.GetDeletionTimestamp() != nil:
		// Already going (a claim waits for its pod to end): nothing to do.
		return Result{}, true
	case holdsData(gvk):
		// Stays in the inventory, reported on every apply until deleted.
		res.Outcome, res.Reason = Kept, "no longer rendered; not deleted because it holds data: copy what you need, then delete it by hand"
		return res, false
	}
	uid := types.UID(en.UID)
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, en.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy,
	})
	switch {
	case err == nil:
		res.Outcome = Pruned
	case apierrors.IsNotFound(err):
		return Result{}, true
	default:
		res.Outcome, res.Reason = Failed, fmt.Sprintf("deleting: %v", err)
		return res, false
	}
	return res, true
}

// holdsData is true of the kinds whose deletion deletes data on a disk.
func holdsData(gvk schema.GroupVersionKind) bool {
	return gvk.Group == "" && (gvk.Kind == "PersistentVolumeClaim" || gvk.Kind == "PersistentVolume")
}
