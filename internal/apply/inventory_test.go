package apply

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func entry(apiVersion, kind, ns, name, uid string) Entry {
	return Entry{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name, UID: uid}
}

func builtin(en Entry) Entry {
	en.Source = SourceBuiltin
	return en
}

func result(apiVersion, kind, ns, name, uid string, o Outcome) Result {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return Result{Key: kind + "/" + ns + "/" + name, GVK: gv.WithKind(kind), Namespace: ns, Name: name, UID: uid, Outcome: o}
}

func invOf(entries ...Entry) *inventory {
	inv := &inventory{entries: map[objKey]Entry{}, overlays: map[string]map[objKey]bool{}}
	for _, en := range entries {
		inv.entries[en.key()] = en
	}
	return inv
}

func TestInventoryUpdate(t *testing.T) {
	tests := []struct {
		name    string
		before  []Entry
		results []Result
		want    []Entry
	}{
		{
			name:    "created objects are recorded, adopted ones are not",
			results: []Result{result("v1", "ConfigMap", "a", "mine", "u1", Created), result("v1", "ConfigMap", "a", "theirs", "u2", Configured)},
			want:    []Entry{builtin(entry("v1", "ConfigMap", "a", "mine", "u1"))},
		},
		{
			name:    "a listed object recreated by someone else is dropped",
			before:  []Entry{entry("v1", "ConfigMap", "a", "x", "old")},
			results: []Result{result("v1", "ConfigMap", "a", "x", "new", Unchanged)},
		},
		{
			name:    "pending, conflict and failed keep their entry; version moves",
			before:  []Entry{entry("v1", "ConfigMap", "a", "p", "u1"), entry("g/v1", "W", "a", "c", "u2"), entry("g/v1beta1", "W", "a", "moved", "u3")},
			results: []Result{result("v1", "ConfigMap", "a", "p", "", Pending), result("g/v1", "W", "a", "c", "", Conflict), result("g/v1", "W", "a", "moved", "u3", Unchanged)},
			want:    []Entry{entry("g/v1", "W", "a", "c", "u2"), builtin(entry("g/v1", "W", "a", "moved", "u3")), entry("v1", "ConfigMap", "a", "p", "u1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invOf(tt.before...).update(&Report{Results: tt.results}, nil)
			// Round-trip through the stored form as well.
			decoded, err := decodeInventory(got.encode())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(invOf(tt.want...).entries, decoded.entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPruneCandidates(t *testing.T) {
	inv := invOf(
		entry("v1", "Namespace", "", "gone-ns", "1"),
		entry("v1", "ConfigMap", "gone-ns", "b", "2"),
		entry("apps/v1", "Deployment", "keep", "web", "3"),
		entry("v1", "ConfigMap", "keep", "a", "4"),
	)
	desired := []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "apps/v2", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "keep"},
	}}}
	var got []string
	for _, en := range pruneCandidates(inv, desired) {
		got = append(got, en.String())
	}
	want := []string{"ConfigMap/gone-ns/b", "ConfigMap/keep/a", "Namespace//gone-ns"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
}
