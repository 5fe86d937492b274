package serverwork

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// Ports of a k3s server's etcd (pkg/etcd/etcd.go: the client URL
// https://<node-ip>:2379, the peer URL https://<node-ip>:2380).
const (
	etcdClientPort = "2379"
	etcdPeerPort   = "2380"
)

// Bounds of the stale-member removal: observing through another server's
// etcd (whose supervisor answers before its etcd starts, so a server that
// is starting too gets half a minute), and waiting for the removal to show
// in its member list.
const (
	staleObserveWait = 30 * time.Second
	staleGoneWait    = 2 * time.Minute
	stalePoll        = time.Second
)

// staleEtcd is the etcd the stale-member removal works through
// (quorum.Observer with an in-memory client certificate).
type staleEtcd interface {
	Observe(ctx context.Context) (quorum.Status, error)
	RemoveMember(ctx context.Context, id uint64) error
	WaitMemberGone(ctx context.Context, clock host.Clock, id uint64, timeout, interval time.Duration) (quorum.Status, error)
}

// ReplaceStaleMember removes this node's etcd member left behind by an
// earlier life of the node (a re-flashed SD card), before k3s first starts
// here and joins through via (https://<addr>:6443): k3s refuses to join
// while it exists ("duplicate node name found", pkg/etcd/etcd.go join).
//
// This node has no etcd client certificate yet, so it signs one, in memory,
// with the etcd server CA from via's bootstrap data, which the cluster
// token entitles a joining server to (as k3s does for itself,
// pkg/daemons/control/deps/deps.go). quorum.DecideStaleMember decides;
// what it decided goes to status and the journal. Nothing to remove is
// nil; a refusal is an error (k3s would be refused anyway).
func (p *Work) ReplaceStaleMember(ctx context.Context, via, caHash string, status func(string)) error {
	start := p.cfg.Clock.Now()
	endpoint, err := etcdURL(via, orString(p.cfg.EtcdClientPort, etcdClientPort))
	if err != nil {
		return err
	}
	token, err := k3s.ReadToken(p.cfg.Root.Path(p.cfg.Cluster.K3s.TokenFile))
	if err != nil {
		return err
	}
	b, err := k3s.FetchBootstrap(ctx, via, token, caHash)
	if err != nil {
		return err
	}
	tlsCfg, err := quorum.MintClientTLS(b.ETCDServerCA, b.ETCDServerCAKey, p.cfg.Clock.Now())
	if err != nil {
		return fmt.Errorf("etcd client certificate for %s: %w", endpoint, err)
	}
	obs := quorum.NewObserver(quorum.Config{Endpoint: endpoint, TLS: tlsCfg}, p.log)
	defer obs.Close()
	return p.replaceStale(ctx, obs, endpoint, status, start)
}

// replaceStale observes etcd through endpoint, decides, and removes the
// member if the decision says so, confirming that it is gone. since is
// when the check began: the time until etcd answered is logged as waited
// (on a fresh homelab, the first server's etcd is still starting).
func (p *Work) replaceStale(ctx context.Context, etcd staleEtcd, endpoint string, status func(string), since time.Time) error {
	var st quorum.Status
	err := host.PollUntil(ctx, p.cfg.Clock, "observing etcd through "+endpoint, orDefault(p.cfg.StaleObserveWait, staleObserveWait), stalePoll,
		func(ctx context.Context) (bool, error) {
			var err error
			st, err = etcd.Observe(ctx)
			return err == nil, err
		})
	if err != nil {
		return fmt.Errorf("cannot observe etcd through %s (its etcd may not be up yet), so this node's stale member cannot be checked: %w", endpoint, err)
	}
	p.log.Info("etcd observed for the stale-member check", zap.String("endpoint", endpoint),
		zap.Duration("waited", p.cfg.Clock.Now().Sub(since)))
	peer := "https://" + net.JoinHostPort(p.cfg.Node.Address, etcdPeerPort)
	d := quorum.DecideStaleMember(st.Members, p.cfg.Node.Name, peer)
	if d.Remove == nil && d.Refused == "" {
		p.log.Debug("no stale etcd member", zap.String("endpoint", endpoint), zap.Int("members", len(st.Members)))
		return nil
	}
	// A member under the name this node's k3s chose (its join stopped
	// half-way) is not stale: k3s rejoins as that member (pkg/etcd/etcd.go
	// join: "if we're already in the cluster, don't try to add ourselves").
	if own := k3s.EtcdName(p.cfg.Root); own != "" && memberNamed(st.Members, own) {
		p.log.Info("the etcd member named after this node is the one k3s chose here; k3s rejoins it",
			zap.String("etcd_member", own), zap.String("endpoint", endpoint))
		return nil
	}
	p.log.Info("stale etcd member", zap.String("decision", d.String()), zap.String("endpoint", endpoint),
		zap.Bool("remove", d.Remove != nil))
	status(d.String())
	if d.Remove == nil {
		return errors.New(d.String())
	}
	m := *d.Remove
	if err := etcd.RemoveMember(ctx, m.ID); err != nil {
		return err
	}
	after, err := etcd.WaitMemberGone(ctx, p.cfg.Clock, m.ID, orDefault(p.cfg.StaleGoneWait, staleGoneWait), stalePoll)
	if err != nil {
		return fmt.Errorf("removed stale etcd member %s, but: %w", m.Name, err)
	}
	p.log.Info("removed stale etcd member", zap.String("etcd_member", m.Name),
		zap.String("member_id", fmt.Sprintf("%x", m.ID)), zap.String("etcd", after.Verdict.String()))
	status(fmt.Sprintf("removed stale etcd member %s; %s", m.Name, after.Verdict))
	return nil
}

// memberNamed reports whether a member is called name.
func memberNamed(members []quorum.Member, name string) bool {
	for _, m := range members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// etcdURL is the etcd client URL on the host of supervisor URL via.
func etcdURL(via, port string) (string, error) {
	u, err := url.Parse(via)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("server URL %q has no host", via)
	}
	return "https://" + net.JoinHostPort(u.Hostname(), port), nil
}

func orString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
