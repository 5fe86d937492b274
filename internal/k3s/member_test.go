package k3s

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
)

// k3s writes db/etcd/name before it joins; only member/wal makes a member.
func TestIsEtcdMember(t *testing.T) {
	root := newRoot(t)
	if IsEtcdMember(root) || HasJoined(root, config.RoleServer) || EtcdName(root) != "" {
		t.Fatal("an empty root is no member and has no member name")
	}
	mustWrite(t, root.Path(filepath.Dir(filepath.Dir(EtcdMemberMarker))+"/name"), []byte("pi4-1-0a1b2c3d\n"), 0o600)
	if got := EtcdName(root); got != "pi4-1-0a1b2c3d" {
		t.Errorf("EtcdName = %q, want the name k3s wrote", got)
	}
	if IsEtcdMember(root) {
		t.Error("a data dir with only db/etcd/name (a join that never finished) is no member")
	}
	if err := os.MkdirAll(root.Path(EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	if !IsEtcdMember(root) || !HasJoined(root, config.RoleServer) {
		t.Error("member/wal makes a member")
	}
	if HasJoined(root, config.RoleAgent) {
		t.Error("an agent has joined only once it has its node password")
	}
}

func TestKeptJoin(t *testing.T) {
	c := defaultCluster(t)
	pi41, _ := c.Node("pi4-1")
	pi5, _ := c.Node("pi5")
	tests := []struct {
		name      string
		node      config.Node
		installed string // "" for no config.yaml
		want      Join
	}{
		{"installed server kept", pi41, "server: https://10.0.0.13:6443\n", Join{Server: "https://10.0.0.13:6443"}},
		{"installed cluster-init kept", pi5, "cluster-init: true\n", Join{ClusterInit: true}},
		{"server no longer configured: config order", pi5, "server: https://10.9.9.9:6443\n", Join{Server: "https://10.0.0.11:6443"}},
		{"no config.yaml: config order, first server", pi41, "", Join{ClusterInit: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			if _, joined, _ := keptJoin(root, c, tc.node); joined {
				t.Fatal("a node without etcd data has not joined")
			}
			if err := os.MkdirAll(root.Path(EtcdMemberMarker), 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.installed != "" {
				mustWrite(t, root.Path(ConfigPath), []byte(tc.installed), 0o600)
			}
			got, joined, err := keptJoin(root, c, tc.node)
			if err != nil || !joined {
				t.Fatalf("keptJoin: joined %v, %v", joined, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("join (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenCAPin(t *testing.T) {
	tests := []struct {
		token, want string
		wantErr     bool
	}{
		{token: "bare-secret"},
		{token: "K10::server:secret"},
		{token: "K10" + caA + "::server:secret", want: caA},
		{token: "K10ABC::server:secret", wantErr: true},
		{token: "K10" + caA[:63] + "x::server:secret", wantErr: true},
	}
	for _, tc := range tests {
		got, err := TokenCAPin(tc.token)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("TokenCAPin(%q) = %q, %v; want %q, error %v", tc.token, got, err, tc.want, tc.wantErr)
		}
	}
}
