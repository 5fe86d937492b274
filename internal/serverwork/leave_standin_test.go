package serverwork

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// standinServer is one k3s stand-in server process with its own root and
// loopback address (the stand-in's K3S_STANDIN_ROOT and
// K3S_STANDIN_LOCAL_ADDRESS).
type standinServer struct {
	name, ip, root string
	cmd            *exec.Cmd
	exited         chan struct{}
}

func (s *standinServer) start(t *testing.T, bin string) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.root, "stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "server")
	s.cmd.Env = append(os.Environ(), "K3S_STANDIN_ROOT="+s.root, "K3S_STANDIN_LOCAL_ADDRESS="+s.ip)
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", s.name, err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); logf.Close(); close(exited) }(s.cmd, s.exited)
}

func (s *standinServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *standinServer) work(t *testing.T) *Work {
	p := New(Config{Log: zaptest.NewLogger(t), Cluster: &config.Cluster{}, Node: config.Node{Name: s.name, Role: config.RoleServer},
		Root: host.NewRoot(s.root), Clock: host.RealClock{}, EtcdEndpoint: "https://" + s.ip + ":2379"})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newStandinServer(t *testing.T, name, ip, join string) *standinServer {
	t.Helper()
	s := &standinServer{name: name, ip: ip, root: t.TempDir()}
	c := fmt.Sprintf("token: leave-test-token\nnode-name: %s\nnode-ip: %s\nflannel-backend: none\nwrite-kubeconfig-mode: \"0600\"\n", name, ip)
	if join == "" {
		c = "cluster-init: true\n" + c
	} else {
		c = "server: https://" + join + ":6443\n" + c
	}
	if err := os.MkdirAll(filepath.Join(s.root, "etc/rancher/k3s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "etc/rancher/k3s/config.yaml"), []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// waitVoters waits until etcd, seen from p, has want healthy voters; on
// failure it shows the servers' logs.
func waitVoters(t *testing.T, ctx context.Context, p *Work, want int, servers ...*standinServer) quorum.Status {
	t.Helper()
	var last quorum.Status
	err := host.PollUntil(ctx, host.RealClock{}, fmt.Sprintf("%d healthy etcd voters", want), 4*time.Minute, time.Second,
		func(ctx context.Context) (bool, error) {
			st, err := p.quorum.Observe(ctx)
			if err != nil {
				return false, err
			}
			last = st
			v := quorum.Evaluate(st.Members)
			return v.HealthyVoters == want && v.Voters == want, nil
		})
	if err != nil {
		t.Fatalf("%v; last: %+v\n%s", err, last.Verdict, logTails(servers...))
	}
	return last
}

// TestLeaveOnThreeStandinServers leaves a three-server cluster of k3s
// stand-ins (real etcd members, real kube-apiservers, k3s's member
// controller removing a deleted Node's member): refused while another
// server is down, then done, leaving two healthy voters that keep quorum,
// the member removed by the controller and seen gone through a peer.
func TestLeaveOnThreeStandinServers(t *testing.T) {
	bin := standinForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	s1 := newStandinServer(t, "s1", "127.0.0.2", "")
	s2 := newStandinServer(t, "s2", "127.0.0.3", "127.0.0.2")
	s3 := newStandinServer(t, "s3", "127.0.0.4", "127.0.0.2")
	s1.start(t, bin)
	p1 := s1.work(t)
	waitVoters(t, ctx, p1, 1, s1)
	// One at a time, as the homelab's servers join: etcd takes one learner
	// at a time, and a k3s whose learner add is refused exits for systemd
	// to restart it, which no one does here.
	s2.start(t, bin)
	waitVoters(t, ctx, p1, 2, s1, s2)
	s3.start(t, bin)
	waitVoters(t, ctx, p1, 3, s1, s2, s3)

	s2.stop()
	p3 := s3.work(t)
	committed := 0
	commit := func() error { committed++; return nil }
	err := host.PollUntil(ctx, host.RealClock{}, "leave refused while s2 is down", 2*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		err := p3.Leave(ctx, commit, func(string) {})
		return errors.Is(err, ErrRefused) && strings.Contains(err.Error(), "leaving would cost etcd its quorum"), err
	})
	if err != nil || committed != 0 {
		t.Fatalf("leave with s2 down: %v, committed %d times", err, committed)
	}
	s2.start(t, bin)
	waitVoters(t, ctx, p1, 3, s1, s2, s3)

	var last string
	if err := p3.Leave(ctx, commit, func(s string) { last = s; t.Log(s) }); err != nil {
		t.Fatalf("leave: %v\n%s", err, logTails(s1, s2, s3))
	}
	if committed != 1 || !strings.HasPrefix(last, "s3 left: etcd member s3-") || !strings.HasSuffix(last, "2/2 voters healthy, need 2") {
		t.Errorf("committed %d, last status %q", committed, last)
	}
	st := waitVoters(t, ctx, p1, 2, s1, s2, s3)
	if len(quorum.MembersOfNode(st.Members, "s3")) != 0 {
		t.Errorf("s3's member still listed: %+v", st.Members)
	}
	client, err := p1.clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "s3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Node s3 after leave: %v", err)
	}
}

func standinForTest(t *testing.T) string {
	t.Helper()
	if os.Getenv("NODEAGENT_INTEGRATION") != "1" && os.Getenv("CI") != "true" {
		t.Skip("starts three k3s stand-in servers: NODEAGENT_INTEGRATION=1")
	}
	if p := os.Getenv("K3S_STANDIN"); p != "" {
		return p
	}
	out, err := exec.Command("../../test/tools/build-k3s-standin.sh").Output()
	if err != nil {
		t.Fatalf("building the k3s stand-in: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// logTails is the end of each server's log, without etcd's per-stream
// chatter, which would push out the controllers' lines.
func logTails(servers ...*standinServer) string {
	var b strings.Builder
	for _, s := range servers {
		var keep []string
		for _, l := range strings.Split(tail(filepath.Join(s.root, "stderr.log")), "\n") {
			if !strings.Contains(l, `"caller":"rafthttp/`) {
				keep = append(keep, l)
			}
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", s.name, strings.Join(keep, "\n"))
	}
	return b.String()
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	return string(b)
}
