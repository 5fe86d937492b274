package config

import (
	"os"
	"testing"
)

// An omitted metrics.listen is the loopback default; "" and "off" turn the
// endpoint off; an explicit address is kept, on the LAN too.
func TestMetricsListen(t *testing.T) {
	base, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"omitted", "", DefaultMetricsListen},
		{"empty", "metrics:\n  listen: \"\"\n", ""},
		{"off", "metrics:\n  listen: off\n", ""},
		{"lan", "metrics:\n  listen: 192.168.50.10:9469\n", "192.168.50.10:9469"},
		{"every address", "metrics:\n  listen: \":9469\"\n", ":9469"},
		{"ipv6 loopback", "metrics:\n  listen: \"[::1]:9469\"\n", "[::1]:9469"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("c.yaml", append(append([]byte{}, base...), tc.yaml...))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Metrics.Address(); got != tc.want {
				t.Errorf("Address() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9469": true, "[::1]:9469": true, "127.0.0.2:1": true,
		":9469": false, "0.0.0.0:9469": false, "[::]:9469": false, "192.168.50.10:9469": false,
		"localhost:9469": false, "garbage": false,
	} {
		if got := LoopbackOnly(addr); got != want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}
