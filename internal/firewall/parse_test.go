package firewall

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/user.rules and user6.rules were written by Debian's ufw 0.36.2
// (a mix of nodeagent-tagged rules and operator rules of every shape:
// interface, route in/out, limit, log, outgoing deny, IPv6-only).
func fixtureRules(t *testing.T) []Rule {
	t.Helper()
	var lists [][]Rule
	for _, f := range []string{"testdata/user.rules", "testdata/user6.rules"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := ParseUserRules(data)
		if err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		lists = append(lists, rs)
	}
	return mergeRules(lists...)
}

func TestParseUserRules(t *testing.T) {
	in := func(r Rule) Rule {
		r.Action, r.Direction = orDefault(r.Action, "allow"), orDefault(r.Direction, "in")
		r.From, r.To = orAny(r.From), orAny(r.To)
		r.SPort, r.Port = orAny(r.SPort), orAny(r.Port)
		return r
	}
	want := []Rule{
		in(Rule{Proto: "tcp", Port: "22", From: "10.0.0.0/24", Comment: "nodeagent:ssh"}),
		in(Rule{Proto: "tcp", Port: "22", InIface: "tailscale0", Comment: "nodeagent:ssh-tailscale"}),
		in(Rule{Proto: "tcp", Port: "9100", From: "10.0.0.12"}),
		in(Rule{Route: true, Proto: "tcp", Port: "8081", To: "10.42.0.0/16", From: "10.0.0.0/24", Comment: "nodeagent:lb filebrowser/http"}),
		in(Rule{Route: true, Proto: "any", From: "10.0.0.5", InIface: "eth0", OutIface: "cni0"}),
		in(Rule{Action: "limit", Proto: "tcp", Port: "2222", Comment: "my limit"}),
		in(Rule{Log: "log", Proto: "udp", To: "10.0.0.11", SPort: "53", From: "10.0.0.9"}),
		in(Rule{Action: "deny", Direction: "out", Proto: "any", To: "203.0.113.0/24"}),
		in(Rule{Proto: "udp", Port: "51820:51821", From: "10.0.0.12", Comment: "nodeagent:wireguard"}),
		in(Rule{Proto: "tcp", Port: "443", From: "2001:db8::/32"}),
	}
	if diff := cmp.Diff(want, fixtureRules(t)); diff != "" {
		t.Errorf("parsed rules (-want +got):\n%s", diff)
	}
}

func TestParseTupleErrors(t *testing.T) {
	for _, line := range []string{
		"### tuple ### allow tcp 22 0.0.0.0/0 any",
		"### tuple ### allow tcp 22 0.0.0.0/0 any 10.0.0.1 in comment=zz",
	} {
		if _, err := ParseUserRules([]byte(line + "\n")); err == nil {
			t.Errorf("ParseUserRules(%q) = nil error, want one", line)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	data := []byte("# comment\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n" +
		"DEFAULT_FORWARD_POLICY=\"REJECT\"\n#DEFAULT_FORWARD_POLICY=\"ACCEPT\"\n")
	want := Defaults{Incoming: "deny", Outgoing: "allow", Routed: "reject"}
	if diff := cmp.Diff(want, parseDefaults(data)); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestParseActive(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want bool
	}{
		{"inactive", "Status: inactive\n", false},
		{"active without rules", "Status: active\n", true},
		{"active with rules", "Status: active\n\nTo   Action  From\n22/tcp ALLOW 10.0.0.0/24\n", true},
		{"translated inactive", "Status: inaktiv\n", false},
		{"translated active with rules", "Status: aktiv\n\nZu  Aktion  Von\n22/tcp ALLOW 10.0.0.0/24\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseActive([]byte(tc.out)); got != tc.want {
				t.Errorf("parseActive(%q) = %v, want %v", tc.out, got, tc.want)
			}
		})
	}
}
