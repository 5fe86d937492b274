package main

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// The kubelet's status update keeps conditions that others own and
// replaces its own.
func TestWithOthersConditions(t *testing.T) {
	own := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}
	existing := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionFalse},
		{Type: "NodeagentReady", Status: corev1.ConditionTrue, Reason: "Provisioned"},
	}
	got := withOthersConditions(own, existing).Conditions
	if len(got) != 2 || got[0].Type != corev1.NodeReady || got[0].Status != corev1.ConditionTrue ||
		got[1].Type != "NodeagentReady" || got[1].Reason != "Provisioned" {
		t.Errorf("conditions = %+v, want the kubelet's Ready True and nodeagent's kept", got)
	}
}

// The apiservers an agent balances over are the supervisors (6443), not
// the port the stand-in's apiserver advertises on loopback; endpoints not
// ready are left out.
func TestSliceAddressesNameTheSupervisorPort(t *testing.T) {
	port, notReady := int32(6444), false
	items := []discoveryv1.EndpointSlice{{
		Ports: []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.77.0.11"}},
			{Addresses: []string{"10.77.0.12"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
		},
	}}
	if got, want := sliceAddresses(items), []string{"10.77.0.11:6443"}; !slices.Equal(got, want) {
		t.Errorf("sliceAddresses = %v, want %v", got, want)
	}
}
