package firewall

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckSSH(t *testing.T) {
	ap := netip.MustParseAddrPort
	sess := func(peer string) Session { return Session{Local: ap("10.0.0.11:22"), Peer: ap(peer), Iface: "eth0"} }
	lan := &Uplink{Addr: netip.MustParseAddr("10.0.0.11"), Prefix: netip.MustParsePrefix("10.0.0.11/24"), Iface: "eth0"}
	home := &Uplink{Addr: netip.MustParseAddr("192.168.1.23"), Prefix: netip.MustParsePrefix("192.168.1.23/24"), Iface: "eth0"}
	ssh := func(from string) Rule { return allowIn("tcp", from, "22", tagSSH) }
	inactive := State{Installed: true, Defaults: packageDefaults()}
	active := func(rs ...Rule) State {
		return State{Installed: true, Active: true, Defaults: DesiredDefaults(), Rules: rs}
	}
	operator := Rule{Action: "allow", Direction: "in", Proto: "tcp", From: "192.168.1.0/24", To: Any, SPort: Any, Port: "22"}
	operatorDeny := Rule{Action: "deny", Direction: "in", Proto: Any, From: "10.0.0.50", To: Any, SPort: Any, Port: Any}
	tests := []struct {
		name       string
		live       State
		desired    []Rule
		view       SSHView
		wantCut    []string
		wantUplink bool
	}{
		{name: "session from a source", live: inactive, desired: []Rule{ssh("10.0.0.0/24")},
			view: SSHView{Sessions: []Session{sess("10.0.0.50:40000")}, Uplink: lan}},
		{name: "session from elsewhere", live: inactive, desired: []Rule{ssh("10.0.0.0/24")},
			view: SSHView{Sessions: []Session{sess("192.168.1.5:40000"), sess("127.0.0.1:40001")}, Uplink: lan}, wantCut: []string{"192.168.1.5:40000"}},
		{name: "the issue's Pi on another LAN, headless", live: inactive, desired: []Rule{ssh("10.0.0.0/24")},
			view: SSHView{Uplink: home}, wantUplink: true},
		{name: "a management host on the uplink's LAN is enough", live: inactive, desired: []Rule{ssh("192.168.1.5")},
			view: SSHView{Uplink: home}},
		{name: "an operator's rule lets the session in", live: State{Installed: true, Defaults: packageDefaults(), Rules: []Rule{operator}},
			desired: []Rule{ssh("10.0.0.0/24")}, view: SSHView{Sessions: []Session{sess("192.168.1.5:40000")}, Uplink: home}},
		{name: "an earlier deny wins over the source", live: State{Installed: true, Defaults: packageDefaults(), Rules: []Rule{operatorDeny}},
			desired: []Rule{ssh("10.0.0.0/24")}, view: SSHView{Sessions: []Session{sess("10.0.0.50:40000")}, Uplink: lan}, wantCut: []string{"10.0.0.50:40000"}},
		{name: "tailscale up covers the uplink", live: inactive,
			desired: []Rule{func() Rule { r := ssh(Any); r.InIface = "tailscale0"; return r }()},
			view:    SSHView{Uplink: home, TailscaleUp: true}},
		{name: "tailscale down does not", live: inactive,
			desired: []Rule{func() Rule { r := ssh(Any); r.InIface = "tailscale0"; return r }()},
			view:    SSHView{Uplink: home}, wantUplink: true},
		{name: "SSH untouched: not checked", live: active(ssh("10.0.0.0/24")), desired: []Rule{ssh("10.0.0.0/24"), allowIn("tcp", "10.0.0.12", "10250", tagKubelet)},
			view: SSHView{Sessions: []Session{sess("192.168.1.5:40000")}, Uplink: home}},
		{name: "moving the source away from a session", live: active(ssh("192.168.1.0/24")), desired: []Rule{ssh("10.0.0.0/24")},
			view: SSHView{Sessions: []Session{sess("192.168.1.5:40000")}, Uplink: lan}, wantCut: []string{"192.168.1.5:40000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSSH(tt.live, tt.desired, DesiredDefaults(), 22, []string{"10.0.0.0/24"}, tt.view)
			var le *LockoutError
			if len(tt.wantCut) == 0 && !tt.wantUplink {
				if err != nil {
					t.Fatalf("CheckSSH = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &le) || !errors.Is(err, ErrSSHLockout) {
				t.Fatalf("CheckSSH = %v, want a LockoutError", err)
			}
			var cut []string
			for _, s := range le.Cut {
				cut = append(cut, s.Peer.String())
			}
			if len(cut) != len(tt.wantCut) || (len(cut) > 0 && cut[0] != tt.wantCut[0]) || (le.Uplink != nil) != tt.wantUplink {
				t.Errorf("cut %v uplink %v; want cut %v uplink %v (%v)", cut, le.Uplink, tt.wantCut, tt.wantUplink, err)
			}
		})
	}
}

func TestPortIn(t *testing.T) {
	for spec, want := range map[string]bool{"22": true, "any": true, "20:30": true, "80,22": true, "80,1000:2000": false, "2222": false} {
		if got := portIn(22, spec); got != want {
			t.Errorf("portIn(22, %q) = %v, want %v", spec, got, want)
		}
	}
}
