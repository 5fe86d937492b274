package config

import (
	"strings"
	"testing"
)

// TestReleaseBaseAccepted: the release sources that validation lets through,
// next to the plain-http ones it refuses (testdata/bad/http-release.yaml).
func TestReleaseBaseAccepted(t *testing.T) {
	const pin = "1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
	cases := map[string]struct {
		base, sha256 string
		ok           bool
	}{
		"https":               {base: "https://github.com/k3s-io/k3s/releases/download", ok: true},
		"air-gap directory":   {base: "/srv/k3s-release", ok: true},
		"air-gap file URL":    {base: "file:///media/usb/k3s", ok: true},
		"http pinned":         {base: "http://10.0.0.2:8080", sha256: "{arm64: " + pin + "}", ok: true},
		"http unpinned":       {base: "http://10.0.0.2:8080"},
		"http other arch":     {base: "http://10.0.0.2:8080", sha256: "{amd64: " + pin + "}"},
		"relative directory":  {base: "k3s-release"},
		"relative file URL":   {base: "file://k3s-release"},
		"http without a host": {base: "http:///k3s", sha256: "{arm64: " + pin + "}"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sha := ""
			if tc.sha256 != "" {
				sha = "\n  sha256: " + tc.sha256
			}
			doc := "apiVersion: nodeagent.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lab}\n" +
				"k3s:\n  version: v1.33.5+k3s1\n  releaseBase: " + tc.base + sha +
				"\nnetwork: {lanCIDR: 10.0.0.0/24}\nnodes: [{name: a, address: 10.0.0.10}]\n"
			_, err := Parse("c.yaml", []byte(doc))
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), "c.yaml:6: k3s.releaseBase: ")):
				t.Errorf("err = %v, want one at c.yaml:6: k3s.releaseBase", err)
			}
		})
	}
}
