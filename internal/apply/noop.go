package apply

import (
	"encoding/json"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// upToDate reports whether server-side applying desired to live would
// change nothing, so the apply request can be skipped. It holds only when
//   - nodeagent's Apply entry in live's managedFields, recorded at desired's
//     apiVersion, owns exactly the fields desired sets: a field another
//     manager took over (kubectl edit, a plain update) is missing from it,
//     and a field nodeagent applied before but desired no longer sets is
//     extra in it (the apply would remove it);
//   - every value desired sets equals live's (desired is a subset of live:
//     fields the apiserver defaulted or others own may be added).
//
// Any doubt answers false: a needless apply costs one request, a wrong
// "up to date" would leave drift in place.
func upToDate(desired, live *unstructured.Unstructured) bool {
	owned, ok := appliedFields(live, desired.GetAPIVersion())
	if !ok {
		return false
	}
	return ownsExactly(withoutIdentity(desired.Object), owned) && subset(desired.Object, live.Object, false)
}

// appliedFields decodes the field set of nodeagent's Apply entry.
func appliedFields(live *unstructured.Unstructured, apiVersion string) (map[string]any, bool) {
	for _, mf := range live.GetManagedFields() {
		if mf.Manager != FieldManager || mf.Operation != metav1.ManagedFieldsOperationApply ||
			mf.Subresource != "" || mf.APIVersion != apiVersion || mf.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &set); err != nil {
			return nil, false
		}
		return set, true
	}
	return nil, false
}

// withoutIdentity drops what the apiserver does not record as owned fields:
// apiVersion, kind, metadata.name and metadata.namespace (they name the
// object; the request path and the lookup already matched them).
func withoutIdentity(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" {
			out[k] = v
		}
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		rest := make(map[string]any, len(md))
		for k, v := range md {
			if k != "name" && k != "namespace" {
				rest[k] = v
			}
		}
		out["metadata"] = rest
	}
	return out
}

// ownsExactly reports whether set (a FieldsV1 node: "f:name" children for
// map fields, "k:{…}" / "v:…" children for list items, "." for the item
// itself) names every field of desired and nothing more.
func ownsExactly(desired any, set map[string]any) bool {
	switch d := desired.(type) {
	case map[string]any:
		return ownsMap(d, set)
	case []any:
		return ownsList(d, set)
	default:
		// A leaf: nothing owned below it but the item itself (".").
		for k := range set {
			if k != "." {
				return false
			}
		}
		return true
	}
}

// ownsMap: a map owned as a leaf is atomic (a label selector), owned whole;
// its values are compared by subset.
func ownsMap(desired map[string]any, set map[string]any) bool {
	if len(set) == 0 {
		return true
	}
	for k, v := range desired {
		child, ok := set["f:"+k].(map[string]any)
		if !ok || !ownsExactly(v, child) {
			return false
		}
	}
	for k := range set {
		if k == "." {
			continue
		}
		name, isField := strings.CutPrefix(k, "f:")
		if _, wanted := desired[name]; !isField || !wanted {
			return false
		}
	}
	return true
}

// ownsList matches each desired item to its own owned item. An empty set
// is an atomic list, owned whole; its values are compared by subset.
func ownsList(desired []any, set map[string]any) bool {
	if len(set) == 0 {
		return true
	}
	items := 0
	for k := range set {
		if k != "." {
			items++
		}
	}
	if items != len(desired) {
		return false
	}
	used := map[string]bool{}
	for _, item := range desired {
		k, ok := ownedItem(item, set, used)
		if !ok || !ownsExactly(item, set[k].(map[string]any)) {
			return false
		}
		used[k] = true
	}
	return true
}

// ownedItem finds the key of item's node in a list's field set: "k:{json}"
// for items of a list keyed by fields, "v:json" for items of a set.
func ownedItem(item any, set map[string]any, used map[string]bool) (string, bool) {
	for k, node := range set {
		if _, ok := node.(map[string]any); !ok || used[k] {
			continue
		}
		switch {
		case strings.HasPrefix(k, "k:"):
			var key map[string]any
			fields, isMap := item.(map[string]any)
			if isMap && json.Unmarshal([]byte(k[2:]), &key) == nil && keyMatches(key, fields) {
				return k, true
			}
		case strings.HasPrefix(k, "v:"):
			var v any
			if json.Unmarshal([]byte(k[2:]), &v) == nil && scalarEqual(v, item, false) {
				return k, true
			}
		}
	}
	return "", false
}

// keyMatches compares the key fields item sets; one it leaves out was
// defaulted by the apiserver (a port's protocol) and matches any value.
func keyMatches(key, item map[string]any) bool {
	for name, want := range key {
		if got, ok := item[name]; ok && !scalarEqual(want, got, false) {
			return false
		}
	}
	return true
}

// subset reports whether every value of desired is in live. Lists must
// have the same length and match item by item in order: the order is what
// nodeagent applied, and an item someone else added is treated as a
// difference (the apply then tells whether it changes anything). quantities
// says desired is a quantity, or a map of them.
func subset(desired, live any, quantities bool) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range d {
			lv, ok := l[k]
			if !ok || !subset(v, lv, quantityMaps[k] || (quantities && isScalar(v))) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !subset(d[i], l[i], false) {
				return false
			}
		}
		return true
	default:
		return scalarEqual(desired, live, quantities)
	}
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// quantityMaps are the fields that hold resource quantities, or maps of
// them (the apiserver rewrites "1024Mi" as "1Gi", 0.5 as "500m");
// elsewhere a string is compared as written, so an edited ConfigMap value
// is noticed.
var quantityMaps = map[string]bool{
	"requests": true, "limits": true, "capacity": true, "hard": true,
	"sizeLimit": true, "storage": true,
}

// scalarEqual compares leaf values: numbers by value (YAML and JSON decode
// them as int64 or float64), quantities in their canonical form.
func scalarEqual(desired, live any, quantity bool) bool {
	if dn, ok := number(desired); ok {
		if ln, ok := number(live); ok {
			return dn == ln
		}
	}
	if desired == live {
		return true
	}
	return quantity && sameQuantity(desired, live)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// sameQuantity reports whether live is desired's canonical form.
func sameQuantity(desired, live any) bool {
	l, ok := live.(string)
	if !ok {
		return false
	}
	s, ok := desired.(string)
	if n, isNumber := number(desired); isNumber {
		s, ok = strconv.FormatFloat(n, 'f', -1, 64), true
	}
	if !ok {
		return false
	}
	q, err := resource.ParseQuantity(s)
	return err == nil && q.String() == l
}
