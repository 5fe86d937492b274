package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Annotations in which nodeagent records the keys it set, so it removes
// only those later (a person's labels survive). The values are sorted,
// comma-separated keys.
const (
	OwnedLabelsAnnotation      = "nodeagent.dev/owned-labels"
	OwnedAnnotationsAnnotation = "nodeagent.dev/owned-annotations"
)

// Desired is the full set of labels and annotations nodeagent wants on a
// Node: static labels from the cluster file, disk labels while mounted and
// USB labels while plugged, merged by the caller.
type Desired struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Kind says whether a key is a label or an annotation.
type Kind string

// Kinds of keys.
const (
	KindLabel      Kind = "label"
	KindAnnotation Kind = "annotation"
)

// Op is what a change does to a key.
type Op string

// Ops of a change.
const (
	OpAdd    Op = "add"
	OpUpdate Op = "update"
	OpRemove Op = "remove"
	// OpAdopt takes ownership of a key a person set to the value nodeagent
	// wants; from then on nodeagent also removes it when no longer wanted.
	OpAdopt Op = "adopt"
	// OpForget drops an owned key that someone already removed from the
	// owned list.
	OpForget Op = "forget"
)

// Change is one key nodeagent changes.
type Change struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	Op   Op     `json:"op"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Conflict is a key a person set to another value than nodeagent wants.
// nodeagent leaves it alone: the hand-set value wins until the person
// removes it, after which nodeagent adds and owns it.
type Conflict struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	Have string `json:"have"`
	Want string `json:"want"`
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s %s is %q (set by hand), nodeagent wants %q", c.Kind, c.Key, c.Have, c.Want)
}

// Diff is what Reconcile would write. Labels and Annotations are merge-patch
// values: a nil pointer removes the key.
type Diff struct {
	Changes     []Change
	Conflicts   []Conflict
	Labels      map[string]*string
	Annotations map[string]*string
}

// Empty reports whether the Node already is as desired (conflicts aside,
// which are left as they are).
func (d Diff) Empty() bool { return len(d.Labels) == 0 && len(d.Annotations) == 0 }

// ComputeDiff compares a Node's labels and annotations with the desired
// ones. It is pure. Keys nodeagent owns (listed in the owned-* annotations)
// are set, updated or removed freely; other keys are only added when absent
// or adopted when already equal, never changed or removed.
func ComputeDiff(labels, annotations map[string]string, want Desired) (Diff, error) {
	for _, k := range []string{OwnedLabelsAnnotation, OwnedAnnotationsAnnotation} {
		if _, ok := want.Annotations[k]; ok {
			return Diff{}, fmt.Errorf("annotation %s is nodeagent's own bookkeeping and cannot be desired", k)
		}
	}
	d := Diff{Labels: map[string]*string{}, Annotations: map[string]*string{}}
	ownedLabels := diffKind(&d, KindLabel, labels, ownedKeys(annotations[OwnedLabelsAnnotation]), want.Labels, d.Labels)
	ownedAnns := diffKind(&d, KindAnnotation, annotations, ownedKeys(annotations[OwnedAnnotationsAnnotation]), want.Annotations, d.Annotations)
	setOwned(d.Annotations, annotations, OwnedLabelsAnnotation, ownedLabels)
	setOwned(d.Annotations, annotations, OwnedAnnotationsAnnotation, ownedAnns)
	return d, nil
}

// diffKind diffs one kind of key into patch and returns the keys nodeagent
// owns afterwards.
func diffKind(d *Diff, kind Kind, cur map[string]string, owned map[string]bool, want map[string]string, patch map[string]*string) []string {
	var newOwned []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v := want[k]
		have, exists := cur[k]
		switch {
		case !exists:
			patch[k] = &v
			d.Changes = append(d.Changes, Change{Kind: kind, Key: k, Op: OpAdd, New: v})
		case have == v && !owned[k]:
			d.Changes = append(d.Changes, Change{Kind: kind, Key: k, Op: OpAdopt, Old: have, New: v})
		case have != v && owned[k]:
			patch[k] = &v
			d.Changes = append(d.Changes, Change{Kind: kind, Key: k, Op: OpUpdate, Old: have, New: v})
		case have != v:
			d.Conflicts = append(d.Conflicts, Conflict{Kind: kind, Key: k, Have: have, Want: v})
			continue // not ours: stays unowned
		}
		newOwned = append(newOwned, k)
	}
	for _, k := range slices.Sorted(maps.Keys(owned)) {
		if _, wanted := want[k]; wanted {
			continue
		}
		if have, exists := cur[k]; exists {
			patch[k] = nil
			d.Changes = append(d.Changes, Change{Kind: kind, Key: k, Op: OpRemove, Old: have})
		} else {
			d.Changes = append(d.Changes, Change{Kind: kind, Key: k, Op: OpForget})
		}
	}
	return newOwned
}

// setOwned records the owned keys in annotation key, removing the
// annotation when nodeagent owns nothing of that kind.
func setOwned(patch map[string]*string, cur map[string]string, key string, owned []string) {
	have, exists := cur[key]
	if len(owned) == 0 {
		if exists {
			patch[key] = nil
		}
		return
	}
	if v := strings.Join(owned, ","); !exists || have != v {
		patch[key] = &v
	}
}

func ownedKeys(list string) map[string]bool {
	out := map[string]bool{}
	for _, k := range strings.Split(list, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out[k] = true
		}
	}
	return out
}

// Merge combines desired sets, e.g. static, disk and USB labels. When two
// sets want different values for one key, the earlier set wins and the
// clash is returned for the caller to log; one bad rule then cannot block
// every other label.
func Merge(parts ...Desired) (Desired, []Conflict) {
	out := Desired{Labels: map[string]string{}, Annotations: map[string]string{}}
	var clashes []Conflict
	merge := func(kind Kind, dst, src map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(src)) {
			if have, ok := dst[k]; ok && have != src[k] {
				clashes = append(clashes, Conflict{Kind: kind, Key: k, Have: have, Want: src[k]})
				continue
			}
			dst[k] = src[k]
		}
	}
	for _, p := range parts {
		merge(KindLabel, out.Labels, p.Labels)
		merge(KindAnnotation, out.Annotations, p.Annotations)
	}
	return out, clashes
}
