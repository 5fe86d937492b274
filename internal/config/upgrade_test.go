package config

import (
	"strings"
	"testing"
)

// k3s.upgradeTimeout: at least 1m (k3s must be able to start), at most
// MaxUpgradeTimeout (within the restart Lease a downed server cannot renew),
// named with its line.
func TestUpgradeTimeoutBounds(t *testing.T) {
	for _, tc := range []struct {
		value, want string
	}{
		{"5m", ""},
		{"9m", ""},
		{"30s", "k3s.upgradeTimeout: 30s is too short"},
		{"20m", "k3s.upgradeTimeout: 20m0s is longer than the restart turn lasts unrenewed (at most 9m0s)"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			doc := strings.Replace(string(DefaultYAML()), "upgradeTimeout: 5m", "upgradeTimeout: "+tc.value, 1)
			_, err := Parse("c.yaml", []byte(doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%s refused: %v", tc.value, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "c.yaml:")):
				t.Fatalf("%s: %v; want %q with its line", tc.value, err, tc.want)
			}
		})
	}
}
