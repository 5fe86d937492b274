package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// The cluster table, line for line: a healthy server, a server whose
// nodeagent is not ready, a node the API does not know, a member of no node.
func TestClusterStatusTable(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 4, 0, time.Local) }
	s := &serverwork.ClusterStatus{
		ApplyLease: &serverwork.LeaseState{RenewTime: at(14, 3)},
		Rollout:    serverwork.RolloutStatus{InProgress: &serverwork.Rollout{Version: "v1.31.5+k3s1", Node: "pi4-2", Since: at(14, 1)}},
		Nodes: []serverwork.ClusterNode{
			{Name: "pi4-1", Registered: true, InClusterFile: true, Role: "server", K3sVersion: "v1.31.4+k3s1", Ready: "True",
				Etcd:           []serverwork.EtcdMember{{Name: "pi4-1-0a0b0c0d", Healthy: true}},
				NodeagentReady: &serverwork.NodeCondition{Status: "True", Reason: "Provisioned"},
				OwnedLabels:    map[string]string{"zigbee": "true", "storage": "true"},
				LastApply:      &serverwork.NodeEvent{At: at(14, 3), Message: "applied 41 objects: 0 created, 2 updated, 39 unchanged, 0 failed"}},
			{Name: "pi4-2", Registered: true, InClusterFile: true, Role: "server", K3sVersion: "v1.31.4+k3s1", Ready: "False",
				Etcd:           []serverwork.EtcdMember{{Name: "pi4-2-1a2b3c4d", Reason: "unreachable: context deadline exceeded"}},
				NodeagentReady: &serverwork.NodeCondition{Status: "False", Reason: "DiskLost", Message: "disk /srv/storage is not mounted"}},
			{Name: "pi5", InClusterFile: true, Role: "agent"},
		},
		OtherMembers: []serverwork.EtcdMember{{Name: "old-1-9f9f9f9f", Learner: true, Healthy: true}},
	}
	var b strings.Builder
	writeClusterStatus(&b, s, "v1.31.5+k3s1")
	want := `apply     lease free, released 2026-12-02 14:03:04
rollout   pi4-2 upgrading k3s to v1.31.5+k3s1 since 2026-12-02 14:01:04
NODE   ROLE    K3S           READY           ETCD             NODEAGENT
pi4-1  server  v1.31.4+k3s1  Ready           voter healthy    True Provisioned
pi4-2  server  v1.31.4+k3s1  NotReady        voter unhealthy  False DiskLost
pi5    agent   —             not registered  —                —
pi4-1     labels    storage=true, zigbee=true
          applied   2026-12-02 14:03:04: applied 41 objects: 0 created, 2 updated, 39 unchanged, 0 failed
pi4-2     nodeagent disk /srv/storage is not mounted
          etcd      pi4-2-1a2b3c4d voter unhealthy: unreachable: context deadline exceeded
etcd      old-1-9f9f9f9f (of no node) learner healthy
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(b.String(), "\n")); diff != "" {
		t.Errorf("cluster status (-want +got):\n%s", diff)
	}
}

// Without etcd, a server's etcd column is unknown (an agent's is empty as
// ever) and the error is said once. A stopped rollout is said while the
// cluster file asks for the failed version.
func TestClusterStatusWithoutEtcd(t *testing.T) {
	failed := &serverwork.Rollout{Version: "v1.32.0+k3s1", Node: "pi4-1", Since: time.Date(2026, 12, 2, 9, 0, 0, 0, time.Local), Reason: "not back within 5m0s"}
	s := &serverwork.ClusterStatus{EtcdError: "listing etcd members via https://127.0.0.1:2379: context deadline exceeded",
		Rollout: serverwork.RolloutStatus{Failed: failed},
		Nodes: []serverwork.ClusterNode{{Name: "pi4-1", Registered: true, Role: "server", Ready: "True"},
			{Name: "pi5", Registered: true, Role: "agent", Ready: "True"}}}
	var b strings.Builder
	writeClusterStatus(&b, s, "v1.32.0+k3s1")
	for _, want := range []string{"apply     lease never taken", "pi4-1  server  —    Ready  unknown  —", "pi5    agent   —    Ready  —        —",
		"etcd      unknown: listing etcd members via https://127.0.0.1:2379: context deadline exceeded",
		"rollout   STOPPED: k3s v1.32.0+k3s1 did not come back on pi4-1 (2026-12-02 09:00:00): not back within 5m0s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("cluster status lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeClusterStatus(&b, s, "v1.32.1+k3s1") // the cluster file moved on
	if strings.Contains(b.String(), "rollout") {
		t.Errorf("a failed version the cluster file no longer asks for is shown:\n%s", b.String())
	}
}

func runStatus(t *testing.T, root, node string, args ...string) (string, error) {
	t.Helper()
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newStatusCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(append([]string{"--root", root, "--node", node, "status"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// On an agent, or on a server k3s has not started on, --cluster says to
// run it on a server.
func TestClusterStatusNeedsAServer(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t)}, 0o644)
	_, err := runStatus(t, root, "pi4-1", "--cluster")
	if err == nil || !strings.Contains(err.Error(), root+"/etc/rancher/k3s/k3s.yaml does not exist") || !strings.Contains(err.Error(), "on a server") {
		t.Errorf("status --cluster without k3s.yaml: %v, want the missing kubeconfig named and a server asked for", err)
	}
	agentRoot := t.TempDir()
	writeFiles(t, agentRoot, map[string]string{config.DefaultPath: withAgents(t, homelabWithLocalRelease(t), "pi4-1", "pi4-2")}, 0o644)
	_, err = runStatus(t, agentRoot, "pi4-2", "--cluster")
	if err == nil || !strings.Contains(err.Error(), "node pi4-2 is a k3s agent") || !strings.Contains(err.Error(), "on a server") {
		t.Errorf("status --cluster on an agent: %v, want it to ask for a server", err)
	}
}

// withAgents makes the named nodes of a cluster file k3s agents.
func withAgents(t *testing.T, y string, names ...string) string {
	t.Helper()
	for _, n := range names {
		server := "  - name: " + n + "\n    address: "
		i := strings.Index(y, server)
		j := strings.Index(y[max(i, 0):], "role: server")
		if i < 0 || j < 0 {
			t.Fatalf("the cluster file has no server %s", n)
		}
		y = y[:i+j] + "role: agent" + y[i+j+len("role: server"):]
	}
	return y
}

// status --cluster -o json on a server, against a real apiserver: the
// cluster file's three nodes, pi5 not registered; no etcd (no client
// certificates under the root) is said, not fatal.
func TestClusterStatusJSONAgainstAPIServer(t *testing.T) {
	srv := apiserver.Start(t)
	ctx := t.Context()
	for _, name := range []string{"pi4-1", "pi4-2"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"node-role.kubernetes.io/control-plane": "true"}}}
		if _, err := srv.Client().CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig, err := os.ReadFile(srv.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t), kube.K3sKubeconfig: string(kubeconfig)}, 0o600)

	out, err := runStatus(t, root, "pi4-1", "--cluster", "-o", "json")
	if err != nil {
		t.Fatalf("status --cluster -o json: %v\n%s", err, out)
	}
	var got struct {
		Nodes []struct {
			Name       string `json:"name"`
			Registered bool   `json:"registered"`
			Role       string `json:"role"`
		} `json:"nodes"`
		EtcdError string `json:"etcdError"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("status --cluster -o json is no JSON: %v\n%s", err, out)
	}
	var nodes []string
	for _, n := range got.Nodes {
		nodes = append(nodes, fmt.Sprintf("%s %s registered=%v", n.Name, n.Role, n.Registered))
	}
	want := []string{"pi4-1 server registered=true", "pi4-2 server registered=true", "pi5 server registered=false"}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if got.EtcdError == "" {
		t.Errorf("no etcd error without etcd's client certificates:\n%s", out)
	}
	text, err := runStatus(t, root, "pi4-1", "--cluster")
	if err != nil || !strings.Contains(squash(text), "pi5 server — not registered unknown —") {
		t.Errorf("status --cluster: %v, want pi5 not registered:\n%s", err, text)
	}
}
