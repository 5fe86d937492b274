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
	home := []netip.Addr{addr("127.0.0.1"), addr("192.168.1.23")}
	tests := []struct {
		name     string
		flag     string
		facts    Facts
		want     string
		wantErr  string
		mismatch bool
	}{
		{name: "flag wins", flag: "pi5", facts: Facts{Hostname: "pi4-1"}, want: "pi5"},
		{name: "flag is taken even when its address is not local", flag: "pi5", facts: Facts{Hostname: "x", Addrs: home}, want: "pi5"},
		{name: "unknown flag", flag: "pi9", wantErr: `node "pi9": no such node`},
		{name: "hostname with its address", facts: Facts{Hostname: "pi4-2", Addrs: []netip.Addr{addr("10.0.0.12")}}, want: "pi4-2"},
		{name: "fqdn hostname", facts: Facts{Hostname: "pi4-2.home", Addrs: []netip.Addr{addr("10.0.0.12")}}, want: "pi4-2"},
		{name: "hostname on another LAN is not the node", facts: Facts{Hostname: "pi4-1", Addrs: home}, mismatch: true,
			wantErr: `hostname "pi4-1" names node pi4-1, but its address 10.0.0.11 is on no local interface (local addresses [127.0.0.1 192.168.1.23])`},
		{name: "hostname without any address yet", facts: Facts{Hostname: "pi4-1"}, mismatch: true, wantErr: "local addresses []"},
		{name: "hostname of one node, address of another", facts: Facts{Hostname: "pi4-1", Addrs: []netip.Addr{addr("10.0.0.12")}},
			mismatch: true, wantErr: "address 10.0.0.11 is on no local interface"},
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
				var mm *MismatchError
				if got := errors.As(err, &mm); got != tt.mismatch {
					t.Errorf("errors.As(MismatchError) = %v, want %v", got, tt.mismatch)
				}
				if tt.mismatch && (!errors.Is(err, ErrNotANode) || mm.Address() != addr("10.0.0.11")) {
					t.Errorf("mismatch %v: want it to be ErrNotANode and to wait for 10.0.0.11", err)
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

func TestIsLocal(t *testing.T) {
	n := config.Node{Name: "pi", Address: "fd00::11"}
	facts := Facts{Addrs: []netip.Addr{netip.MustParseAddr("fd00::11")}}
	if !IsLocal(n, facts) {
		t.Errorf("IsLocal(fd00::11) = false with it local")
	}
	if IsLocal(n, Facts{}) {
		t.Errorf("IsLocal(fd00::11) = true with no local address")
	}
}
