package apply

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestConflicts(t *testing.T) {
	cause := func(field, msg string) metav1.StatusCause {
		return metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Field: field, Message: msg}
	}
	tests := []struct {
		name   string
		err    error
		want   []FieldConflict
		wantOK bool
	}{
		{"nil", nil, nil, false},
		{"not found", apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "x"), nil, false},
		{"plain error", errors.New("conflict"), nil, false},
		{
			name: "two fields, wrapped",
			err: fmt.Errorf("applying: %w", apierrors.NewApplyConflict([]metav1.StatusCause{
				cause(".spec.replicas", `conflict with "kubectl-edit" using apps/v1`),
				cause(".data.mode", `conflict with "person" with subresource "scale" using v1`),
				{Type: metav1.CauseTypeFieldValueInvalid, Field: ".x", Message: "other"},
			}, "Apply failed with 2 conflicts")),
			want:   []FieldConflict{{".spec.replicas", "kubectl-edit"}, {".data.mode", "person"}},
			wantOK: true,
		},
		{
			name:   "unquoted manager kept whole",
			err:    apierrors.NewApplyConflict([]metav1.StatusCause{cause(".a", "conflict with someone")}, "m"),
			want:   []FieldConflict{{".a", "conflict with someone"}},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := conflicts(tt.err)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestForceSet(t *testing.T) {
	obj := func(kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		return u
	}
	set := newForceSet([]string{"Deployment/network/pihole", "ConfigMap/settings", "ClusterIssuer/homelab-ca"})
	tests := []struct {
		obj  *unstructured.Unstructured
		want bool
	}{
		{obj("Deployment", "network", "pihole"), true},
		{obj("Deployment", "other", "pihole"), false},
		{obj("Service", "network", "pihole"), false},
		{obj("ConfigMap", "any", "settings"), true},
		{obj("ClusterIssuer", "", "homelab-ca"), true},
		{obj("ClusterIssuer", "", "other"), false},
	}
	for _, tt := range tests {
		t.Run(Key(tt.obj), func(t *testing.T) {
			if got := set.has(tt.obj); got != tt.want {
				t.Errorf("has = %v, want %v", got, tt.want)
			}
		})
	}
}
