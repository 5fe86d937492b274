package serverwork

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/quorum"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// ObserveRejoin reads this server's own etcd (serializably: it answers
// without quorum) and every other server's (linearizably), with this
// server's etcd client certificate, for the cluster ID, the members and
// the restore record each holds. A restore keeps the CAs, so the restored
// server's etcd trusts this certificate; an accidental second cluster,
// with CAs of its own, does not answer.
func (p *Work) ObserveRejoin(ctx context.Context) (restore.RejoinInput, error) {
	in := restore.RejoinInput{Self: p.cfg.Node.Name, Member: k3s.EtcdName(p.cfg.Root), Joined: k3s.IsEtcdMember(p.cfg.Root)}
	if !in.Joined || in.Member == "" {
		return in, nil
	}
	tlsCfg, err := p.etcdTLS()
	if err != nil {
		return in, err
	}
	var peers []config.Node
	for _, s := range p.cfg.Cluster.Servers() {
		if s.Name != p.cfg.Node.Name {
			peers = append(peers, s)
		}
	}
	in.Peers = make([]restore.PeerView, len(peers))
	var wg sync.WaitGroup
	wg.Go(func() {
		v, err := readEtcdView(ctx, orString(p.cfg.EtcdEndpoint, quorum.DefaultEndpoint), tlsCfg, p.log, true)
		in.Local = viewOf(p.cfg.Node.Name, v, err)
	})
	for i, s := range peers {
		wg.Go(func() {
			endpoint := "https://" + net.JoinHostPort(s.Address, orString(p.cfg.EtcdClientPort, etcdClientPort))
			v, err := readEtcdView(ctx, endpoint, tlsCfg, p.log, false)
			in.Peers[i] = viewOf(s.Name, v, err)
		})
	}
	wg.Wait()
	return in, nil
}

func viewOf(name string, v etcdView, err error) restore.PeerView {
	if err != nil {
		return restore.PeerView{Name: name, Err: err}
	}
	return restore.PeerView{Name: name, ClusterID: v.ClusterID, Members: v.Members, Record: v.Record, RecordErr: v.RecordErr}
}

// RejoinRestored is the daemon's check after a restore elsewhere: it
// observes, decides (restore.DecideRejoin) and, only when a current restore
// record proves that this server's member is not in the restored cluster,
// stops k3s, moves server/db aside (kept), makes config.yaml join through
// the restored server and starts k3s.
func (p *Work) RejoinRestored(ctx context.Context, status func(string)) error {
	_, err := p.rejoinRestored(ctx, host.NewExecRunner(p.log), status)
	return err
}

// rejoinRestored is RejoinRestored with run for systemctl; moved reports
// whether it moved the data.
func (p *Work) rejoinRestored(ctx context.Context, run host.Runner, status func(string)) (moved bool, err error) {
	in, err := p.ObserveRejoin(ctx)
	if err != nil {
		return false, err
	}
	d := restore.DecideRejoin(in)
	switch d.Action {
	case restore.RejoinNothing:
		p.log.Debug("no rejoin after a restore", zap.String("reason", d.Reason))
		return false, nil
	case restore.RejoinWait:
		p.log.Info("rejoin after a restore not decided", zap.String("reason", d.Reason))
		return false, nil
	}
	var via config.Node
	for _, s := range p.cfg.Cluster.Servers() {
		if s.Name == d.Via {
			via = s
		}
	}
	r := &Rejoiner{Root: p.cfg.Root, Run: run, Log: p.log, Clock: p.cfg.Clock,
		Cluster: p.cfg.Cluster, Node: p.cfg.Node}
	return true, r.Rejoin(ctx, d, via, status)
}

// Rejoiner does what k3s says to do on every other server after a cluster
// reset: back up server/db (here: move it aside, kept) and rejoin.
type Rejoiner struct {
	Root    host.Root
	Run     host.Runner
	Log     *zap.Logger
	Clock   host.Clock
	Cluster *config.Cluster
	Node    config.Node
}

// Rejoin renders config.yaml to join through via (before anything stops:
// a token that cannot be read changes nothing), stops k3s, writes it and
// the pending-rejoin record, moves server/db aside and starts k3s. Both
// come before the move: a server without etcd data that was interrupted
// here would otherwise decide its join anew and might pick a server of
// the old cluster.
func (r *Rejoiner) Rejoin(ctx context.Context, d restore.RejoinDecision, via config.Node, status func(string)) error {
	if via.Address == "" {
		return fmt.Errorf("rejoin: %s is not a server of the cluster file", d.Via)
	}
	unit := k3s.UnitName(r.Node.Role)
	status(d.Reason)
	r.Log.Warn("etcd restored elsewhere without this server: rejoining", zap.String("via", d.Via),
		zap.String("snapshot", d.Record.Snapshot), zap.String("etcd_cluster", fmt.Sprintf("%x", d.Record.ClusterID)))
	tokens, err := k3s.ReadTokens(r.Root, r.Cluster, r.Node)
	if err != nil {
		return err
	}
	data, err := k3s.RenderConfig(r.Cluster, r.Node, tokens, k3s.Join{Server: k3s.SupervisorURL(via.Address)})
	if err != nil {
		return err
	}
	status("stopping " + unit)
	if _, err := r.Run.Run(ctx, "systemctl", "stop", unit); err != nil {
		return fmt.Errorf("stopping %s: %w", unit, err)
	}
	if _, err := k3s.WriteConfig(r.Root, data); err != nil {
		return err
	}
	viaURL := k3s.SupervisorURL(via.Address)
	if _, err := host.WriteFileAtomic(r.Root.Path(restore.RejoinPendingPath), []byte(viaURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the rejoin through %s: %w", d.Via, err)
	}
	aside, err := r.moveAside()
	if err != nil {
		return err
	}
	status("moved " + restore.DBDir + " aside to " + aside + " (kept); starting " + unit + " to join through " + d.Via)
	if _, err := r.Run.Run(ctx, "systemctl", "start", unit); err != nil {
		return fmt.Errorf("starting %s to rejoin through %s: %w", unit, d.Via, err)
	}
	status(unit + " started, joining through " + d.Via + "; the old etcd data stays in " + aside)
	return nil
}

// moveAside renames server/db to a dated directory beside it; a name taken
// already (two rejoins in one second) gets a suffix, never overwritten.
func (r *Rejoiner) moveAside() (string, error) {
	src := r.Root.Path(restore.DBDir)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("moving %s aside: it is not there", restore.DBDir)
	}
	base := restore.AsideDir(r.Clock.Now())
	dst := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(r.Root.Path(dst)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.%d", base, i)
	}
	if err := os.Rename(src, r.Root.Path(dst)); err != nil {
		return "", fmt.Errorf("moving %s aside to %s: %w", restore.DBDir, dst, err)
	}
	if err := syncDir(filepath.Dir(src)); err != nil {
		r.Log.Warn("syncing the directory of the moved etcd data", zap.Error(err))
	}
	return dst, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
