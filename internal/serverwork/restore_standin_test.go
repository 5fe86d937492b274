package serverwork

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// restoreWork is s's server work in a cluster file naming servers, so the
// restore check asks the others.
func restoreWork(t *testing.T, s *standinServer, servers ...*standinServer) *Work {
	c := &config.Cluster{}
	for _, o := range servers {
		c.Nodes = append(c.Nodes, config.Node{Name: o.name, Address: o.ip, Role: config.RoleServer})
	}
	p := New(Config{Log: zaptest.NewLogger(t), Cluster: c, Node: config.Node{Name: s.name, Address: s.ip, Role: config.RoleServer},
		Root: host.NewRoot(s.root), Clock: host.RealClock{}, EtcdEndpoint: "https://" + s.ip + ":2379"})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestRestoreRecordOnStandinServers records a restore on a k3s stand-in
// server whose etcd has one member (as after k3s's cluster reset) through
// its real kube-apiserver, and reads it back the way the daemon's check
// does: from etcd itself, on the server and on a second server that then
// joins. That server's member is in the recorded cluster, so it keeps its
// data; once the recording server is down, it waits.
func TestRestoreRecordOnStandinServers(t *testing.T) {
	bin := standinForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s1 := newStandinServer(t, "s1", "127.0.17.2", "")
	s2 := newStandinServer(t, "s2", "127.0.17.3", "127.0.17.2")
	s1.start(t, bin)
	p1 := restoreWork(t, s1, s1, s2)
	waitVoters(t, ctx, p1, 1, s1)

	rec, err := p1.RecordRestore(ctx, "/var/lib/rancher/k3s/server/db/snapshots/test-snap", func(string) {})
	if err != nil {
		t.Fatalf("RecordRestore: %v\n%s", err, logTails(s1))
	}
	if rec.ClusterID == 0 || rec.Node != "s1" || rec.Member == "" {
		t.Fatalf("record %+v: want s1's member and a cluster ID", rec)
	}

	s2.start(t, bin)
	waitVoters(t, ctx, p1, 2, s1, s2)
	p2 := restoreWork(t, s2, s1, s2)
	in, err := p2.ObserveRejoin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.Member == "" || !in.Joined || len(in.Peers) != 1 {
		t.Fatalf("observed %+v: want s2's member and s1 as the one peer", in)
	}
	for _, v := range []restore.PeerView{in.Local, in.Peers[0]} {
		if v.Err != nil || v.RecordErr != nil || v.Record == nil || *v.Record != rec || v.ClusterID != rec.ClusterID {
			t.Errorf("view %s: %+v (record %+v), want the record %+v read from etcd", v.Name, v, v.Record, rec)
		}
	}
	if d := restore.DecideRejoin(in); d.Action != restore.RejoinNothing {
		t.Errorf("s2 is in the recorded cluster, yet DecideRejoin = %+v", d)
	}

	s1.stop()
	in, err = p2.ObserveRejoin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := restore.DecideRejoin(in); d.Action == restore.RejoinMove {
		t.Errorf("with s1 down, DecideRejoin = %+v, want no move", d)
	}
	if in.Peers[0].Err == nil {
		t.Errorf("s1 is stopped, yet its etcd answered: %+v", in.Peers[0])
	}
}
