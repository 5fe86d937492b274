package apply

import (
	"context"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// liveVersions holds resourceVersions read in bulk before a step, keyed by
// resource then "namespace/name".
type liveVersions map[schema.GroupVersionResource]map[string]string

func (l liveVersions) lookup(gvr schema.GroupVersionResource, ns, name string) (string, bool) {
	rv, ok := l[gvr][ns+"/"+name]
	return rv, ok
}

// prefetch lists, once per resource with several objects in the step, the
// objects carrying nodeagent's label. A no-op re-apply then costs one list
// per kind plus one apply per object instead of a read and an apply per
// object, which keeps it inside the client's burst (kube.RestConfig: QPS
// 50, burst 100) and so fast. Objects not found here (not labelled yet,
// or not listed) are read one by one.
func (e *Engine) prefetch(ctx context.Context, objs []*unstructured.Unstructured) liveVersions {
	count := map[schema.GroupVersionResource]int{}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			count[m.Resource]++
		}
	}
	out := liveVersions{}
	for gvr, n := range count {
		if n < 2 {
			continue
		}
		list, err := e.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
		if err != nil {
			if !meta.IsNoMatchError(err) {
				e.log.Debug("listing for resourceVersions failed, reading one by one", zap.String("resource", gvr.String()), zap.Error(err))
			}
			continue
		}
		versions := make(map[string]string, len(list.Items))
		for _, item := range list.Items {
			versions[item.GetNamespace()+"/"+item.GetName()] = item.GetResourceVersion()
		}
		out[gvr] = versions
	}
	return out
}
