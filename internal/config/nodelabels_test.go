package config

import "testing"

func TestKubeletRefusesLabel(t *testing.T) {
	for key, refused := range map[string]bool{
		"zigbee":                                false,
		"storage-type":                          false,
		"nodeagent.dev/disk":                    false,
		"kubernetes.io/hostname":                false,
		"kubernetes.io/arch":                    false,
		"topology.kubernetes.io/zone":           false,
		"node.kubernetes.io/room":               false,
		"feature.node.kubernetes.io/usb":        false,
		"kubelet.kubernetes.io/x":               false,
		"node-role.kubernetes.io/worker":        true,
		"kubernetes.io/role":                    true,
		"example.k8s.io/room":                   true,
		"k8s.io/x":                              true,
		"node-restriction.kubernetes.io/zone":   true,
		"a.node-restriction.kubernetes.io/zone": true,
		"notkubernetes.io/x":                    false,
	} {
		if got := KubeletRefusesLabel(key) != ""; got != refused {
			t.Errorf("KubeletRefusesLabel(%q) refuses = %v, want %v", key, got, refused)
		}
	}
}

// Every node matches every rule of the catalog, agents too: none of its
// labels may be one NodeRestriction refuses a node.
func TestBuiltinUSBLabelsAreAllowedToAgents(t *testing.T) {
	for _, r := range builtinUSBRules() {
		for k := range r.Labels {
			if why := KubeletRefusesLabel(k); why != "" {
				t.Errorf("built-in rule %s sets %s: %s", r.Name, k, why)
			}
		}
	}
}
