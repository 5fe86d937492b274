package agent

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// outOfClusterProbeEvery is how often a server asks the other servers'
// supervisors which etcd members they list. After `nodeagent restore` on
// another server this server still serves the old data, with quorum if
// another old member is up, until its k3s step moves it aside and rejoins:
// a minute bounds that, for one TLS request per peer (a few ms of CPU).
const outOfClusterProbeEvery = time.Minute

// outOfClusterRetrigger: while a peer keeps listing members without this
// one, a pass is queued again this often (the restore record may have been
// written after the first pass looked).
const outOfClusterRetrigger = 3 * time.Minute

// outOfCluster is the probe's memory: per peer, the member list last acted
// on and when.
type outOfCluster struct {
	seen map[string]string
	at   map[string]time.Time
}

// notice reports whether a peer's member list that lacks this server
// calls for a pass: a list not acted on yet, or one acted on a while ago.
func (o *outOfCluster) notice(peer string, members []string, now time.Time) bool {
	sig := strings.Join(slices.Sorted(slices.Values(members)), ",")
	if o.seen[peer] == sig && now.Sub(o.at[peer]) < outOfClusterRetrigger {
		return false
	}
	o.seen[peer], o.at[peer] = sig, now
	return true
}

func (o *outOfCluster) forget(peer string) {
	delete(o.seen, peer)
	delete(o.at, peer)
}

// watchOutOfCluster queues a full pass when another server's etcd lists
// members but not this server's: a restore there, or this member removed.
// The k3s step's restore check (a child with an etcd client) decides what,
// if anything, to do; this watch only makes it look now rather than at the
// next resync.
func (a *Agent) watchOutOfCluster(ctx context.Context, q *queue, c *config.Cluster) error {
	tick := a.Clock.NewTicker(outOfClusterProbeEvery)
	defer tick.Stop()
	o := &outOfCluster{seen: map[string]string{}, at: map[string]time.Time{}}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
		if a.probeOutOfCluster(ctx, c, o) {
			q.add(workFull)
		}
	}
}

func (a *Agent) probeOutOfCluster(ctx context.Context, c *config.Cluster, o *outOfCluster) bool {
	self := k3s.EtcdName(a.Root)
	if self == "" || !k3s.IsEtcdMember(a.Root) {
		return false
	}
	token, err := k3s.ReadToken(a.Root.Path(c.K3s.TokenFile))
	if err != nil {
		return false
	}
	queue := false
	for _, s := range c.Servers() {
		if s.Name == a.Node.Name {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		members, err := k3s.DBMembers(ctx, k3s.SupervisorURL(s.Address), token, a.Root.Path(k3s.ServerCAFile))
		cancel()
		if err != nil || len(members) == 0 || slices.Contains(members, self) {
			o.forget(s.Name)
			continue
		}
		if o.notice(s.Name, members, a.Clock.Now()) {
			a.log.Info("another server's etcd does not list this member: checking for a restore there",
				zap.String("server", s.Name), zap.String("member", self), zap.Strings("itsMembers", members))
			queue = true
		}
	}
	return queue
}
