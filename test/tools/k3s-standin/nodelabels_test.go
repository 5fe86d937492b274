package main

import (
	"strings"
	"testing"
)

// TestValidateKubeletNodeLabels follows the kubelet's --node-labels check.
func TestValidateKubeletNodeLabels(t *testing.T) {
	for _, tc := range []struct {
		labels  []string
		wantErr string // substring; empty: accepted
	}{
		{[]string{"homelab/zigbee=true", "node.kubernetes.io/exclude=x", "kubelet.kubernetes.io/a=b", "kubernetes.io/hostname=a1"}, ""},
		{[]string{"topology.kubernetes.io/zone=attic"}, ""},
		{[]string{"node-role.kubernetes.io/worker=true"}, "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/worker]"},
		{[]string{"foo.k8s.io/x=1"}, "[foo.k8s.io/x]"},
		{[]string{"node-restriction.kubernetes.io/x=1"}, "unknown 'kubernetes.io'"},
		{[]string{"bad key=1"}, "invalid node labels"},
		{[]string{"homelab/x=bad value"}, "invalid node labels"},
	} {
		err := validateKubeletNodeLabels(tc.labels)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v, want accepted", tc.labels, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: %v, want an error with %q", tc.labels, err, tc.wantErr)
		}
	}
}
