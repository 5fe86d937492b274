package firewall

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	ssh := allowIn("tcp", "10.0.0.0/24", "22", tagSSH)
	etcd := allowIn("tcp", "10.0.0.12", "2379:2380", tagEtcd)
	staleOwned := allowIn("tcp", "10.0.0.99", "2379:2380", tagEtcd)
	operator := allowIn("tcp", "10.0.0.12", "9100", "")
	operatorCommented := allowIn("tcp", "10.0.0.12", "9200", "my rule")
	// The operator already has the exact rule nodeagent wants, untagged.
	operatorSSH := ssh
	operatorSSH.Comment = "ssh from home"
	retagged := etcd
	retagged.Comment = OwnerTag + "etcd-old-name"

	for _, tc := range []struct {
		name                string
		desired, live       []Rule
		wantAdd, wantRemove []Rule
	}{
		{"empty host", []Rule{ssh, etcd}, nil, []Rule{ssh, etcd}, nil},
		{"in place", []Rule{ssh, etcd}, []Rule{etcd, ssh}, nil, nil},
		{"stale owned rule goes, operator rules stay", []Rule{ssh, etcd},
			[]Rule{ssh, operator, staleOwned, etcd, operatorCommented}, nil, []Rule{staleOwned}},
		{"operator's identical rule satisfies and is not taken over", []Rule{ssh},
			[]Rule{operatorSSH}, nil, nil},
		{"a comment change alone changes nothing", []Rule{etcd}, []Rule{retagged}, nil, nil},
		{"nothing desired removes only owned rules", nil, []Rule{operator, ssh}, nil, []Rule{ssh}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			add, remove := Diff(tc.desired, tc.live)
			if diff := cmp.Diff(tc.wantAdd, add); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRemove, remove); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangesOrder(t *testing.T) {
	ssh := allowIn("tcp", "10.0.0.0/24", "22", tagSSH)
	oldSSH := allowIn("tcp", "192.168.1.0/24", "22", tagSSH)
	lb := allowIn("tcp", "10.0.0.0/24", "80", tagLB+"web/http")
	lb.Route, lb.To = true, "10.42.0.0/16"
	live := State{Installed: true, Active: false, Rules: []Rule{oldSSH},
		Defaults: Defaults{Incoming: "allow", Outgoing: "allow", Routed: "allow"}}
	var got []string
	for _, ch := range Changes(live, []Rule{ssh, lb}, DesiredDefaults()) {
		got = append(got, ruleArgv(ch.Args))
	}
	want := []string{
		"ufw allow proto tcp from 10.0.0.0/24 to any port 22 comment nodeagent:ssh",
		"ufw route allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 80 comment nodeagent:lb/web/http",
		"ufw delete allow proto tcp from 192.168.1.0/24 to any port 22",
		"ufw default deny incoming",
		"ufw default deny routed",
		"ufw --force enable",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	inPlace := State{Installed: true, Active: true, Rules: []Rule{ssh, lb}, Defaults: DesiredDefaults()}
	if chs := Changes(inPlace, []Rule{ssh, lb}, DesiredDefaults()); len(chs) != 0 {
		t.Errorf("changes for a host in place = %v, want none", chs)
	}
}

func TestDeleteArgs(t *testing.T) {
	lb := allowIn("tcp", "10.0.0.0/24", "80", tagLB+"web/http")
	lb.Route, lb.To = true, "10.42.0.0/16"
	ifaces := Rule{Route: true, Action: "allow", Direction: "in", InIface: "eth0", OutIface: "cni0",
		Proto: Any, From: "10.0.0.5", To: Any, SPort: Any, Port: Any, Comment: OwnerTag + "x"}
	out := Rule{Action: "deny", Direction: "out", OutIface: "eth0", Proto: "udp", From: Any, To: "203.0.113.0/24",
		SPort: Any, Port: "53"}
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{lb, "ufw route delete allow proto tcp from 10.0.0.0/24 to 10.42.0.0/16 port 80"},
		{ifaces, "ufw route delete allow in on eth0 out on cni0 from 10.0.0.5 to any"},
		{out, "ufw delete deny out on eth0 proto udp from any to 203.0.113.0/24 port 53"},
	} {
		if got := ruleArgv(tc.rule.DeleteArgs()); got != tc.want {
			t.Errorf("DeleteArgs = %q, want %q", got, tc.want)
		}
	}
}
