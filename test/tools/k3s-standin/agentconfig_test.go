package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadAgentConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		want    *agentConfig
		wantErr string
	}{{
		name: "nodeagent's fourth Pi",
		yaml: "server: https://10.77.0.11:6443\ntoken: K10" + fakeHash + "::server:s3cret\nnode-name: Pi4-4\nnode-ip: 10.77.0.14\n" +
			"node-label:\n- homelab/zigbee=true\nnode-taint: dedicated=zigbee:NoSchedule\nflannel-iface: eth0\n" +
			"cluster-init: true\nwrite-kubeconfig-mode: \"0644\"\n",
		want: &agentConfig{Server: "https://10.77.0.11:6443", Token: "K10" + fakeHash + "::server:s3cret", NodeName: "pi4-4",
			NodeIP: "10.77.0.14", NodeLabel: stringList{"homelab/zigbee=true"}, NodeTaint: stringList{"dedicated=zigbee:NoSchedule"},
			FlannelIface: "eth0", skipped: []string{"cluster-init", "write-kubeconfig-mode"}},
	}, {
		name:    "no server",
		yaml:    "token: t\nnode-ip: 10.0.0.1\n",
		wantErr: "--server is required",
	}, {
		name:    "no token",
		yaml:    "server: https://10.0.0.1:6443\nnode-ip: 10.0.0.2\n",
		wantErr: "--token is required",
	}, {
		name:    "bad CA hash",
		yaml:    "server: https://10.0.0.1:6443\ntoken: K10abc::node:x\nnode-ip: 10.0.0.2\n",
		wantErr: "token: invalid token CA hash length",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
			if err := os.MkdirAll(filepath.Dir(p.configFile), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p.configFile, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := loadAgentConfig(p)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(agentConfig{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if tok := got.agentToken(); tok.username != "node" || tok.password != "s3cret" {
				t.Errorf("agent token %+v: want the node user with the token's password", tok)
			}
		})
	}
}

const fakeHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
