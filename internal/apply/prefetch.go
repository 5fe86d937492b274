package apply

import (
	"context"
	"sync"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxConcurrentLists bounds the lists prefetch runs at once.
const maxConcurrentLists = 32

// liveObjects holds objects read in bulk before a step, keyed by resource
// then "namespace/name".
type liveObjects map[schema.GroupVersionResource]map[string]*unstructured.Unstructured

func (l liveObjects) lookup(gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, bool) {
	live, ok := l[gvr][ns+"/"+name]
	return live, ok
}

// prefetch lists, once per resource of objs not listed in known yet, the
// objects carrying nodeagent's label: in the one namespace objs of that
// resource are in, or in all; and adds them to known. A no-op re-apply
// then costs one list per kind and no request per object (upToDate decides
// from the listed object). Objects not found here (not labelled, or someone
// removed the label, or the list failed) are read one by one.
func (e *Engine) prefetch(ctx context.Context, objs []*unstructured.Unstructured, known liveObjects) {
	namespaces := map[schema.GroupVersionResource]map[string]bool{}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		if _, listed := known[m.Resource]; listed {
			continue
		}
		if namespaces[m.Resource] == nil {
			namespaces[m.Resource] = map[string]bool{}
		}
		namespaces[m.Resource][u.GetNamespace()] = true
	}
	// The lists run concurrently: a no-op pass is then about one round
	// trip long, not one per kind. A set has a few dozen kinds at most,
	// well inside the client's burst.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentLists)
	for gvr, nss := range namespaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if items, ok := e.listManaged(ctx, gvr, nss); ok {
				mu.Lock()
				known[gvr] = items
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// listManaged lists gvr's objects labelled as nodeagent's, in the namespace
// when nss holds only one ("" lists cluster-scoped objects or all).
func (e *Engine) listManaged(ctx context.Context, gvr schema.GroupVersionResource, nss map[string]bool) (map[string]*unstructured.Unstructured, bool) {
	namespace := ""
	if len(nss) == 1 {
		for ns := range nss {
			namespace = ns
		}
	}
	opts := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy}
	list, err := e.dyn.Resource(gvr).Namespace(namespace).List(ctx, opts)
	if err != nil {
		if !meta.IsNoMatchError(err) {
			e.log.Debug("listing live objects failed, reading one by one", zap.String("resource", gvr.String()), zap.Error(err))
		}
		return nil, false
	}
	items := make(map[string]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		item := &list.Items[i]
		items[item.GetNamespace()+"/"+item.GetName()] = item
	}
	return items, true
}
