package identity

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
)

func TestResolve(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr
	tests := []struct {
		name    string
		flag    string
		facts   Facts
		want    string
		wantErr string
	}{
		{name: "flag wins", flag: "pi5", facts: Facts{Hostname: "pi4-1"}, want: "pi5"},
		{name: "unknown flag", flag: "pi9", wantErr: `--node "pi9": no such node`},
		{name: "hostname", facts: Facts{Hostname: "pi4-2"}, want: "pi4-2"},
		{name: "fqdn hostname", facts: Facts{Hostname: "pi4-2.home"}, want: "pi4-2"},
		{name: "address", facts: Facts{Hostname: "raspberrypi", Addrs: []netip.Addr{addr("127.0.0.1"), addr("10.0.0.13")}}, want: "pi5"},
		{name: "mapped address", facts: Facts{Hostname: "raspberrypi", Addrs: []netip.Addr{addr("::ffff:10.0.0.11")}}, want: "pi4-1"},
		{name: "nothing", facts: Facts{Hostname: "laptop", Addrs: []netip.Addr{addr("192.168.1.5")}}, wantErr: `hostname "laptop", local addresses [192.168.1.5]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Resolve(&f.Cluster, tt.flag, tt.facts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != tt.want {
				t.Errorf("node = %s, want %s", n.Name, tt.want)
			}
		})
	}
	if _, err := Resolve(&f.Cluster, "", Facts{Hostname: "x"}); !errors.Is(err, ErrNotANode) {
		t.Errorf("err = %v, want ErrNotANode", err)
	}
}
