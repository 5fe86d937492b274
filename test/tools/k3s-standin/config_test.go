package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		token   string // content of <root>/etc/token, if set
		want    config
		wantErr bool
	}{
		{
			name: "nodeagent first server",
			yaml: "cluster-init: true\ntoken: s3cret\nnode-name: pi1\nnode-ip: 10.77.0.11\nadvertise-address: 10.77.0.11\n" +
				"flannel-backend: vxlan\nservice-cidr: 10.43.0.0/16\nnode-label:\n- a=b\n- c=d\nnode-taint:\n- k=v:NoSchedule\n" +
				"write-kubeconfig-mode: \"0600\"\netcd-snapshot-retention: 5\n",
			want: config{ClusterInit: true, Token: "s3cret", NodeName: "pi1", NodeIP: "10.77.0.11", AdvertiseAddress: "10.77.0.11",
				ServiceCIDR: "10.43.0.0/16", ClusterCIDR: DefaultClusterCIDR, ClusterDomain: "cluster.local", NodeLabel: stringList{"a=b", "c=d"},
				NodeTaint: stringList{"k=v:NoSchedule"}, WriteKubeconfigMode: "0600",
				EtcdSnapshotRetention: new(5), EtcdSnapshotCron: "0 */12 * * *", EtcdSnapshotName: "etcd-snapshot"},
		},
		{
			name: "etcd snapshot and S3 keys",
			yaml: "cluster-init: true\ntoken: t\nnode-name: a\nnode-ip: 10.0.0.1\netcd-snapshot-dir: /srv/snaps\n" +
				"etcd-snapshot-retention: 0\netcd-snapshot-schedule-cron: \"@every 1h\"\netcd-disable-snapshots: true\n" +
				"etcd-snapshot-name: nightly\netcd-s3: true\netcd-s3-secret-key: sk\netcd-s3-bucket: b\n",
			want: config{ClusterInit: true, Token: "t", NodeName: "a", NodeIP: "10.0.0.1", AdvertiseAddress: "10.0.0.1",
				ServiceCIDR: "10.43.0.0/16", ClusterCIDR: DefaultClusterCIDR, ClusterDomain: "cluster.local", EtcdSnapshotDir: "/srv/snaps",
				EtcdSnapshotRetention: new(0), EtcdSnapshotCron: "@every 1h", EtcdDisableSnapshots: true,
				EtcdSnapshotName: "nightly", s3Keys: []string{"etcd-s3", "etcd-s3-bucket", "etcd-s3-secret-key"}},
		},
		{
			name:  "joining server with token-file and single-string label",
			yaml:  "server: https://10.77.0.11:6443\ntoken-file: /etc/token\nnode-name: pi2\nnode-ip: 10.77.0.12\nnode-label: x=y\n",
			token: "from-file\n",
			want: config{Server: "https://10.77.0.11:6443", Token: "from-file", TokenFile: "/etc/token", NodeName: "pi2",
				NodeIP: "10.77.0.12", AdvertiseAddress: "10.77.0.12", ServiceCIDR: "10.43.0.0/16", ClusterCIDR: DefaultClusterCIDR, ClusterDomain: "cluster.local",
				NodeLabel: stringList{"x=y"}, EtcdSnapshotRetention: new(5), EtcdSnapshotCron: "0 */12 * * *", EtcdSnapshotName: "etcd-snapshot"},
		},
		{name: "no token", yaml: "cluster-init: true\nnode-name: a\nnode-ip: 10.0.0.1\n", wantErr: true},
		{name: "no node-ip", yaml: "cluster-init: true\ntoken: t\nnode-name: a\n", wantErr: true},
		{name: "neither server nor cluster-init (SQLite in k3s) is refused", yaml: "token: t\nnode-name: a\nnode-ip: 10.0.0.1\n", wantErr: true},
		{name: "bad CA hash length", yaml: "cluster-init: true\ntoken: K10abc::server:pw\nnode-name: a\nnode-ip: 10.0.0.1\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
			writeTestFile(t, p.configFile, tc.yaml)
			if tc.token != "" {
				writeTestFile(t, p.rooted("/etc/token"), tc.token)
			}
			got, err := loadConfig(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("loadConfig error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigDropIns(t *testing.T) {
	p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
	writeTestFile(t, p.configFile, "cluster-init: true\ntoken: t\nnode-name: a\nnode-ip: 10.0.0.1\nnode-label: [x=1]\n")
	writeTestFile(t, p.configFile+".d/20-b.YML", "node-label+: [z=3]\n")
	writeTestFile(t, p.configFile+".d/15-ignored.txt", "node-name: c\n")
	writeTestFile(t, p.configFile+".d/10-a.yaml", "node-name: b\nnode-label+: y=2\n")
	got, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"x=1", "y=2", "z=3"}, []string(got.NodeLabel)); diff != "" || got.NodeName != "b" {
		t.Errorf("node-name %q, node-label (-want +got):\n%s", got.NodeName, diff)
	}
}

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		want    joinToken
		wantErr bool
	}{
		{in: "bare", want: joinToken{password: "bare"}},
		{in: "K10" + hash + "::server:pw", want: joinToken{caHash: hash, username: "server", password: "pw"}},
		{in: "K10::server:pw", want: joinToken{username: "server", password: "pw"}},
		{in: "K10abc::server:pw", wantErr: true},
		{in: "K10" + hash + "::nopassword", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseToken(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(joinToken{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMemberName(t *testing.T) {
	p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
	name, err := memberName(p, "pi4-1")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^pi4-1-[0-9a-f]{8}$`).MatchString(name) || memberNodeName(name) != "pi4-1" {
		t.Fatalf("member name %q: want pi4-1-<8 hex>", name)
	}
	again, err := memberName(p, "pi4-1")
	if err != nil || again != name {
		t.Errorf("second call = %q, %v; want the recorded %q", again, err, name)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestKubeconfigMode(t *testing.T) {
	tests := []struct {
		in      string
		want    os.FileMode
		wantErr bool
	}{{"", 0o600, false}, {"0644", 0o644, false}, {"600", 0o600, false}, {"rw", 0, true}}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := (&config{WriteKubeconfigMode: tc.in}).kubeconfigMode()
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("kubeconfigMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseTaint(t *testing.T) {
	tests := []struct {
		in      string
		want    corev1.Taint
		wantErr bool
	}{
		{in: "dedicated=zigbee:NoSchedule", want: corev1.Taint{Key: "dedicated", Value: "zigbee", Effect: corev1.TaintEffectNoSchedule}},
		{in: "CriticalAddonsOnly:NoExecute", want: corev1.Taint{Key: "CriticalAddonsOnly", Effect: corev1.TaintEffectNoExecute}},
		{in: "noeffect=x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTaint(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("taint (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceIP(t *testing.T) {
	ip, err := firstServiceIP("10.43.0.0/16")
	if err != nil || ip.String() != "10.43.0.1" {
		t.Errorf("firstServiceIP = %v, %v; want 10.43.0.1", ip, err)
	}
}
