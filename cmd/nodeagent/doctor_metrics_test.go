package main

import (
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
)

// doctor says where the metrics endpoint listens and warns when it is not
// loopback only.
func TestDoctorWarnsOfMetricsOffLoopback(t *testing.T) {
	// listen replaces the built-in homelab's listen line ("": omitted).
	for _, tc := range []struct{ listen, want string }{
		{"", "ok metrics " + config.DefaultMetricsListen + " (loopback only)"},
		{"  listen: off\n", "ok metrics off (metrics.listen)"},
		{"  listen: 0.0.0.0:9469\n", "WARN metrics metrics.listen 0.0.0.0:9469 is not loopback"},
		{"  listen: \":9469\"\n", "WARN metrics metrics.listen :9469 is not loopback"},
	} {
		root := t.TempDir()
		y := strings.Replace(homelabWithLocalRelease(t), "  listen: 127.0.0.1:9469\n", tc.listen, 1)
		writeFiles(t, root, map[string]string{config.DefaultPath: y}, 0o644)
		out, _ := runDoctor(t, root)
		if !strings.Contains(squash(out), squash(tc.want)) {
			t.Errorf("metrics.listen %q: doctor lacks %q:\n%s", tc.listen, tc.want, out)
		}
	}
}
