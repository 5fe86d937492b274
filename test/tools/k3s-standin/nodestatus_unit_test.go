package main

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
)

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
