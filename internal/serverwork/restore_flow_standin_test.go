package serverwork

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// standinUnit is systemd for one stand-in server: `systemctl stop|start
// k3s.service` stop and start its process (there is no systemd here);
// RunCombined runs the k3s stand-in binary for real, in the server's root.
type standinUnit struct {
	t   *testing.T
	bin string
	s   *standinServer
}

func (u *standinUnit) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	if name == "systemctl" && len(args) == 2 && args[1] == "k3s.service" {
		switch args[0] {
		case "stop":
			u.s.stop()
			return nil, nil
		case "start":
			u.s.start(u.t, u.bin)
			return nil, nil
		}
	}
	return nil, fmt.Errorf("%s %v: not a command this test runs", name, args)
}

func (u *standinUnit) RunCombined(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "K3S_STANDIN_ROOT="+u.s.root, "K3S_STANDIN_LOCAL_ADDRESS="+u.s.ip)
	return cmd.CombinedOutput()
}

// flowCluster is the cluster file of the flow test: three servers, the
// stand-in's token in a token file in each root.
func flowCluster(t *testing.T, servers ...*standinServer) *config.Cluster {
	c := &config.Cluster{}
	c.K3s.TokenFile = "/etc/nodeagent/token"
	c.K3s.AgentTokenFile = "/etc/nodeagent/agent-token" // none: servers only
	c.K3s.FlannelBackend = "none"
	for _, s := range servers {
		c.Nodes = append(c.Nodes, config.Node{Name: s.name, Address: s.ip, Role: config.RoleServer})
		p := filepath.Join(s.root, "etc/nodeagent/token")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("leave-test-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func flowWork(t *testing.T, c *config.Cluster, s *standinServer) *Work {
	var n config.Node
	for _, o := range c.Nodes {
		if o.Name == s.name {
			n = o
		}
	}
	p := New(Config{Log: zaptest.NewLogger(t), Cluster: c, Node: n, Root: host.NewRoot(s.root), Clock: host.RealClock{},
		EtcdEndpoint: "https://" + s.ip + ":2379"})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestRestoreFlowOnThreeStandinServers restores a three-server cluster of
// k3s stand-ins (real etcd, real kube-apiservers, k3s's cluster-reset
// contract) from a snapshot: a ConfigMap is created, snapshotted and
// deleted; s1 restores with restore.Restorer (stop, cluster-reset with the
// snapshot, k3s's message, start, record); s2 and s3, still a majority of
// the old cluster, decide from what their etcd clients see that they were
// left out, move server/db aside and rejoin through s1, one at a time.
// The ConfigMap is back, s1 sees three voters, and the old data is kept.
func TestRestoreFlowOnThreeStandinServers(t *testing.T) {
	bin := standinForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s1 := newStandinServer(t, "s1", "127.0.18.2", "")
	s2 := newStandinServer(t, "s2", "127.0.18.3", "127.0.18.2")
	s3 := newStandinServer(t, "s3", "127.0.18.4", "127.0.18.2")
	all := []*standinServer{s1, s2, s3}
	c := flowCluster(t, all...)
	p1, p2, p3 := flowWork(t, c, s1), flowWork(t, c, s2), flowWork(t, c, s3)
	s1.start(t, bin)
	waitVoters(t, ctx, p1, 1, s1)
	s2.start(t, bin)
	waitVoters(t, ctx, p1, 2, s1, s2)
	s3.start(t, bin)
	waitVoters(t, ctx, p1, 3, all...)

	client, err := p1.clientset()
	if err != nil {
		t.Fatal(err)
	}
	cms := client.CoreV1().ConfigMaps(metav1.NamespaceDefault)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "precious"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u1 := &standinUnit{t: t, bin: bin, s: s1}
	out, err := u1.RunCombined(ctx, bin, "etcd-snapshot", "save")
	m := regexp.MustCompile(`Snapshot (on-demand-s1-\d+) saved\.`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("etcd-snapshot save: %v\n%s", err, out)
	}
	if err := cms.Delete(ctx, "precious", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	root1 := host.NewRoot(s1.root)
	snap, err := restore.Resolve(root1, string(m[1]), []string{restore.SnapshotDir})
	if err != nil {
		t.Fatal(err)
	}
	r := &restore.Restorer{Root: root1, Run: u1, Log: zaptest.NewLogger(t), Binary: bin, Unit: "k3s.service",
		Record: func(ctx context.Context, status func(string)) error {
			_, err := p1.RecordRestore(ctx, snap.Path, status)
			return err
		}}
	start := time.Now()
	if err := r.Restore(ctx, snap, func(s string) { t.Log("restore: " + s) }); err != nil {
		t.Fatalf("restore: %v\n%s", err, logTails(s1))
	}
	t.Logf("restore on s1 (stop, reset, start, record): %.1fs", time.Since(start).Seconds())
	p1.client = nil // the restarted apiserver: a new connection
	if client, err = p1.clientset(); err != nil {
		t.Fatal(err)
	}
	cms = client.CoreV1().ConfigMaps(metav1.NamespaceDefault)
	if _, err := cms.Get(ctx, "precious", metav1.GetOptions{}); err != nil {
		t.Errorf("the snapshot's ConfigMap after the restore: %v", err)
	}

	// Without the record, no peer moves: s1 could as well be an accidental
	// second cluster. Then it is recorded again.
	if err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Delete(ctx, restore.RecordName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	in, err := p2.ObserveRejoin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := restore.DecideRejoin(in); d.Action == restore.RejoinMove {
		t.Errorf("s2 without a restore record: %+v, want no move", d)
	} else {
		t.Logf("s2 without a record: %s", d.Reason)
	}
	if _, err := p1.RecordRestore(ctx, snap.Path, func(string) {}); err != nil {
		t.Fatal(err)
	}

	// The restorer never moves its own data.
	if moved, err := p1.rejoinRestored(ctx, u1, func(string) {}); moved || err != nil {
		t.Errorf("s1 after its own restore: moved %v, %v", moved, err)
	}
	for i, peer := range []struct {
		s *standinServer
		p *Work
	}{{s2, p2}, {s3, p3}} {
		u := &standinUnit{t: t, bin: bin, s: peer.s}
		// The peer's etcd may still be busy with the old cluster: poll.
		var rejoinErr error
		err := host.PollUntil(ctx, host.RealClock{}, peer.s.name+" rejoining", 3*time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
			moved, err := peer.p.rejoinRestored(ctx, u, func(s string) { t.Logf("%s: %s", peer.s.name, s) })
			if moved {
				rejoinErr = err
			}
			return moved, err
		})
		if err == nil && rejoinErr != nil {
			err = rejoinErr
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, logTails(all...))
		}
		waitVoters(t, ctx, p1, 2+i, all...)
		aside, _ := filepath.Glob(filepath.Join(peer.s.root, "var/lib/rancher/k3s/server/db.before-restore-*"))
		if len(aside) != 1 {
			t.Errorf("%s: old data dirs %v, want one", peer.s.name, aside)
		} else if _, err := os.Stat(filepath.Join(aside[0], "etcd/member/wal")); err != nil {
			t.Errorf("%s: the old etcd data is not kept in %s: %v", peer.s.name, aside[0], err)
		}
		if via, _ := os.ReadFile(filepath.Join(peer.s.root, restore.RejoinPendingPath)); strings.TrimSpace(string(via)) != "https://127.0.18.2:6443" {
			t.Errorf("%s: pending rejoin record %q, want s1's URL", peer.s.name, via)
		}
		cfg, _ := os.ReadFile(filepath.Join(peer.s.root, "etc/rancher/k3s/config.yaml"))
		if !strings.Contains(string(cfg), "server: https://127.0.18.2:6443") {
			t.Errorf("%s: config.yaml does not join through s1:\n%s", peer.s.name, cfg)
		}
	}
	// Rejoined: nothing more to do anywhere.
	for _, p := range []*Work{p2, p3} {
		in, err := p.ObserveRejoin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := restore.DecideRejoin(in); d.Action != restore.RejoinNothing {
			t.Errorf("%s after rejoining: %+v", p.cfg.Node.Name, d)
		}
	}
	if _, err := cms.Get(ctx, "precious", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Error("the restored ConfigMap is gone after the rejoins")
	}
}
