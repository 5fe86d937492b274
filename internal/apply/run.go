package apply

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// run is the state of one Apply: results by input index and the objects
// waiting for their kind.
type run struct {
	e        *Engine
	desired  []*unstructured.Unstructured
	results  []Result
	guard    *guard
	mu       sync.Mutex
	deferred []int
	// known is the live objects listed so far, by resource. Applying the
	// namespaces and CRDs does not change the other kinds' lists, so
	// Apply lists every served kind once, up front, beside the inventory
	// read; a step lists only the kinds not listed yet (a chart's kinds).
	known liveObjects
	// waited is the time spent in waits for the cluster (Report.Waited).
	waited time.Duration
	// charts are the charts seen installed in this run.
	charts installs
}

func (e *Engine) newRun(ctx context.Context, desired []*unstructured.Unstructured) *run {
	r := &run{e: e, desired: desired, results: make([]Result, len(desired)), known: liveObjects{}}
	for i, u := range desired {
		r.results[i] = newResult(u)
		r.results[i].Outcome = Pending
		r.results[i].Reason = "not reached"
	}
	var held func() bool
	if e.opts.Held != nil {
		held = func() bool { return e.opts.Held(ctx) }
	}
	r.guard = newGuard(held, e.opts.HeldInterval, e.opts.Clock)
	return r
}

// prepare copies objs, labels them as nodeagent's and drops the server-set
// metadata a manifest exported with "kubectl get -o yaml" carries (a stale
// resourceVersion would turn the apply into a failing precondition).
func prepare(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	seen := map[objKey]int{}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, in := range objs {
		if in.GetAPIVersion() == "" || in.GetKind() == "" || in.GetName() == "" {
			return nil, fmt.Errorf("object %d (%s): apiVersion, kind and metadata.name are required", i, Key(in))
		}
		k := keyOf(in)
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("object %d (%s) duplicates object %d", i, Key(in), j)
		}
		seen[k] = i
		u := in.DeepCopy()
		for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"} {
			unstructured.RemoveNestedField(u.Object, "metadata", f)
		}
		unstructured.RemoveNestedField(u.Object, "status")
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelManagedBy] = ManagedBy
		u.SetLabels(labels)
		out[i] = u
	}
	return out, nil
}

// splitFirst returns the indexes of the Namespaces and CRDs, which the other
// objects need, and of the rest, each in input order.
func splitFirst(objs []*unstructured.Unstructured) (first, rest []int) {
	for i, u := range objs {
		if isNamespace(u) || isCRD(u) {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	return first, rest
}

func isNamespace(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Namespace"
}

func isCRD(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition"
}

// step applies the objects at idx concurrently: within a step nothing
// depends on anything else (namespaces and CRDs came in the step before),
// and the apiserver on the local node serves parallel requests well.
func (r *run) step(ctx context.Context, name string, idx []int) {
	if len(idx) == 0 {
		return
	}
	if !r.guard.check(true) {
		r.stopAll(idx)
		return
	}
	r.e.log.Debug("apply step", zap.String("step", name), zap.Int("objects", len(idx)))
	objs := make([]*unstructured.Unstructured, len(idx))
	for j, i := range idx {
		objs[j] = r.desired[i]
	}
	r.e.prefetch(ctx, objs, r.known)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(r.e.opts.Workers, len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r.applyIndex(ctx, i, r.known)
			}
		}()
	}
	for _, i := range idx {
		work <- i
	}
	close(work)
	wg.Wait()
}

func (r *run) applyIndex(ctx context.Context, i int, known liveObjects) {
	if !r.guard.check(false) {
		r.stopAll([]int{i})
		return
	}
	res, deferred := r.e.applyOne(ctx, r.desired[i], known, &r.charts)
	r.results[i] = res
	r.e.retry.note(res)
	if deferred {
		r.mu.Lock()
		r.deferred = append(r.deferred, i)
		r.mu.Unlock()
	}
	r.e.logResult(res)
}

func (r *run) stopAll(idx []int) {
	for _, i := range idx {
		r.results[i].Outcome = Pending
		r.results[i].Reason = "stopped: etcd quorum lost"
	}
}

func (e *Engine) logResult(res Result) {
	fields := []zap.Field{zap.String("object", res.Key), zap.String("outcome", string(res.Outcome))}
	switch res.Outcome {
	case Unchanged:
		e.log.Debug("already applied", fields...)
	case Created, Configured:
		e.log.Info("applied", fields...)
	case Pruned:
		e.log.Info("pruned", fields...)
	case Kept:
		e.log.Warn("not pruned", append(fields, zap.String("reason", res.Reason))...)
	default:
		e.log.Warn("not applied", append(fields, zap.String("reason", res.Reason))...)
	}
}
