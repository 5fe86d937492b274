package apply

import (
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// conflicts extracts the fields and their managers from a server-side apply
// conflict. The apiserver puts one StatusCause of type FieldManagerConflict
// per field, with the manager quoted in the message:
// `conflict with "kubectl-edit" using apps/v1`. ok is false when err is not
// an apply conflict.
func conflicts(err error) (list []FieldConflict, ok bool) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsConflict(err) {
		return nil, false
	}
	details := status.Status().Details
	if details == nil {
		return nil, true
	}
	for _, c := range details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		list = append(list, FieldConflict{Field: c.Field, Manager: quoted(c.Message)})
	}
	return list, true
}

// quoted returns the first double-quoted word of s, or s when there is none.
func quoted(s string) string {
	_, rest, ok := strings.Cut(s, `"`)
	if !ok {
		return s
	}
	word, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return s
	}
	return word
}

// conflictReason is the Result.Reason of a conflict: every field with its
// manager and how to resolve it.
func conflictReason(list []FieldConflict) string {
	parts := make([]string, len(list))
	for i, c := range list {
		parts[i] = c.Field + " owned by " + c.Manager
	}
	return "fields managed by others: " + strings.Join(parts, ", ") +
		" (change them back, or list the object in apply.forceConflicts to take them)"
}

// forceSet matches objects against apply.forceConflicts entries, which are
// "Kind/name" (any namespace, or a cluster object) or "Kind/namespace/name".
type forceSet map[string]bool

func newForceSet(entries []string) forceSet {
	s := forceSet{}
	for _, e := range entries {
		s[e] = true
	}
	return s
}

func (s forceSet) has(u *unstructured.Unstructured) bool {
	if len(s) == 0 {
		return false
	}
	kind, ns, name := u.GetKind(), u.GetNamespace(), u.GetName()
	return s[kind+"/"+name] || (ns != "" && s[kind+"/"+ns+"/"+name])
}
