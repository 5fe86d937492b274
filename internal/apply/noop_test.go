package apply

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// serviceOwned is what kube-apiserver v1.37 records for nodeagent's apply
// of desiredService: the port is keyed with its defaulted protocol, the
// selector is an atomic map owned as a leaf.
const serviceOwned = `{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{},"f:tier":{}}},` +
	`"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}},` +
	`"f:selector":{},"f:resources":{"f:requests":{"f:memory":{}}}}}`

func desiredService() map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "web", "namespace": "ns",
			"labels": map[string]any{LabelManagedBy: ManagedBy, "tier": "web"}},
		"spec": map[string]any{
			"selector":  map[string]any{"app": "web"},
			"ports":     []any{map[string]any{"name": "http", "port": int64(80), "targetPort": "http"}},
			"resources": map[string]any{"requests": map[string]any{"memory": "1024Mi"}},
		},
	}
}

// liveService is desiredService as the apiserver returns it: defaults
// added, the quantity canonical, a field someone else added.
func liveService() map[string]any {
	u := desiredService()
	spec := u["spec"].(map[string]any)
	spec["ports"].([]any)[0].(map[string]any)["protocol"] = "TCP"
	spec["resources"].(map[string]any)["requests"].(map[string]any)["memory"] = "1Gi"
	spec["type"] = "ClusterIP"
	u["metadata"].(map[string]any)["annotations"] = map[string]any{"someone": "else"}
	return u
}

func TestUpToDate(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(desired, live map[string]any)
		owned      string
		apiVersion string
		want       bool
	}{
		{name: "applied, defaults and others' fields added", want: true},
		{name: "value edited", want: false, edit: func(_, live map[string]any) {
			live["metadata"].(map[string]any)["labels"].(map[string]any)["tier"] = "db"
		}},
		{name: "number edited", want: false, edit: func(_, live map[string]any) {
			live["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"] = int64(81)
		}},
		{name: "number as float", want: true, edit: func(_, live map[string]any) {
			live["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"] = float64(80)
		}},
		{name: "quantity not canonical", want: false, edit: func(_, live map[string]any) {
			live["spec"].(map[string]any)["resources"].(map[string]any)["requests"].(map[string]any)["memory"] = "1G"
		}},
		{name: "field taken over by another manager", want: false,
			owned: `{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{}}},"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}},"f:selector":{},"f:resources":{"f:requests":{"f:memory":{}}}}}`},
		{name: "field applied before, no longer desired", want: false, edit: func(desired, _ map[string]any) {
			delete(desired["metadata"].(map[string]any)["labels"].(map[string]any), "tier")
		}},
		{name: "list item added by someone else", want: false, edit: func(_, live map[string]any) {
			spec := live["spec"].(map[string]any)
			spec["ports"] = append(spec["ports"].([]any), map[string]any{"port": int64(443), "protocol": "TCP"})
		}},
		{name: "applied at another apiVersion", want: false, apiVersion: "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired, live := desiredService(), liveService()
			if tt.edit != nil {
				tt.edit(desired, live)
			}
			owned, apiVersion := serviceOwned, "v1"
			if tt.owned != "" {
				owned = tt.owned
			}
			if tt.apiVersion != "" {
				apiVersion = tt.apiVersion
			}
			l := &unstructured.Unstructured{Object: live}
			l.SetManagedFields([]metav1.ManagedFieldsEntry{
				{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{}}}`)},
				{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: apiVersion,
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(owned)},
			})
			if got := upToDate(&unstructured.Unstructured{Object: desired}, l); got != tt.want {
				t.Errorf("upToDate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScalarEqualQuantitiesOnlyWhereTheyAre(t *testing.T) {
	d := map[string]any{"data": map[string]any{"size": "1024Mi"}, "requests": map[string]any{"cpu": 0.5}}
	l := map[string]any{"data": map[string]any{"size": "1Gi"}, "requests": map[string]any{"cpu": "500m"}}
	if subset(d, l, false) {
		t.Error(`ConfigMap-like data "1024Mi" matched live "1Gi": an edit to a plain string would go unnoticed`)
	}
	delete(d, "data")
	if !subset(d, l, false) {
		t.Error(`requests.cpu 0.5 did not match the apiserver's "500m"`)
	}
}
