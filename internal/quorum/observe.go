package quorum

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultCallTimeout bounds each etcd call of an observation. etcd answers
// Status from memory in milliseconds; a member that takes longer than this is
// not one to count on.
const DefaultCallTimeout = time.Second

// probeKey is read linearizably through the local endpoint, like
// `etcdctl endpoint health` does. The key need not exist.
const probeKey = "health"

// Config says where the local etcd is and how to authenticate to it.
type Config struct {
	// Endpoint is the local etcd client URL; DefaultEndpoint if empty.
	Endpoint string
	// TLSDir holds CAFile, CertFile and KeyFile; DefaultTLSDir if empty.
	TLSDir string
	// TLS, when set, is used instead of TLSDir: a client certificate held
	// in memory only (MintClientTLS), on a server whose k3s has not
	// written its own yet.
	TLS *tls.Config
	// CallTimeout bounds each call; DefaultCallTimeout if zero.
	CallTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.TLSDir == "" {
		c.TLSDir = DefaultTLSDir
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	return c
}

// Observer reports the state of the etcd cluster. Observations are
// serialized, so a Held check from one goroutine and a Wait in another do not
// close each other's connections. Close releases the connections.
type Observer struct {
	cfg   Config
	log   *zap.Logger
	mu    sync.Mutex // one observation at a time
	conns *pool
}

// NewObserver returns an Observer; it does not connect until Observe.
func NewObserver(cfg Config, log *zap.Logger) *Observer {
	o := &Observer{cfg: cfg.withDefaults(), log: log.With(zap.String("component", "quorum"))}
	o.conns = newPool(o.dial)
	return o
}

// Close closes all connections.
func (o *Observer) Close() error { return o.conns.close() }

func (o *Observer) dial(endpoints []string) (*clientv3.Client, error) {
	tlsCfg := o.cfg.TLS.Clone()
	if tlsCfg == nil {
		var err error
		if tlsCfg, err = loadTLS(o.cfg.TLSDir); err != nil {
			return nil, err
		}
	}
	return clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		TLS:       tlsCfg,
		// One retry at most: the retry interceptor otherwise retries a
		// refused connection until the call deadline, so one stopped
		// member would stretch every observation to CallTimeout.
		MaxUnaryRetries: 1,
		// Polling a stopped member fails 4 times a second; the client's
		// own warnings about it would drown the journal.
		Logger: o.log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	})
}

// Observe lists the members through the local endpoint, asks every member
// for its status on its own client URL, and does a linearizable read through
// the local endpoint. It returns an error only when the member list cannot be
// read; an unhealthy cluster is a Status with Quorum() false.
func (o *Observer) Observe(ctx context.Context) (Status, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	members, self, err := o.memberList(ctx)
	if err != nil {
		return Status{}, err
	}
	keep := map[string]bool{localKey(o.cfg.Endpoint): true}
	for _, m := range members {
		keep[memberKey(m)] = true
	}
	o.conns.retain(keep)

	answers, readErr := o.probe(ctx, members)
	assessed, view := assess(members, answers)
	st := Status{
		Self: self, Leader: view.Leader, Term: view.Term,
		Members: assessed, ReadErr: readErr, Verdict: Evaluate(assessed),
	}
	o.log.Debug("observed etcd cluster", zap.Stringer("verdict", st.Verdict),
		zap.Bool("quorum", st.Quorum()), zap.Error(readErr))
	return st, nil
}

// memberList uses a serializable MemberList: the local member answers from
// its own store, so the list is there even without quorum, which is when
// it matters most.
func (o *Observer) memberList(ctx context.Context) ([]Member, uint64, error) {
	key := localKey(o.cfg.Endpoint)
	cli, err := o.conns.get(key, []string{o.cfg.Endpoint})
	if err != nil {
		return nil, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	defer cancel()
	resp, err := cli.MemberList(cctx, clientv3.WithSerializable())
	if err != nil {
		o.conns.drop(key)
		return nil, 0, fmt.Errorf("listing etcd members via %s: %w", o.cfg.Endpoint, err)
	}
	members := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		members = append(members, Member{
			ID: m.ID, Name: m.Name, Learner: m.IsLearner,
			PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs,
		})
	}
	return members, resp.Header.GetMemberId(), nil
}

// probe asks all members in parallel and does the local read alongside, so
// an observation takes one CallTimeout at worst.
func (o *Observer) probe(ctx context.Context, members []Member) (map[uint64]answer, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = make(map[uint64]answer, len(members))
		readErr error
	)
	for _, m := range members {
		if len(m.ClientURLs) == 0 {
			continue // added but never started: nothing to ask
		}
		wg.Go(func() {
			a := o.status(ctx, m)
			mu.Lock()
			answers[m.ID] = a
			mu.Unlock()
		})
	}
	wg.Go(func() { readErr = o.linearizableRead(ctx) })
	wg.Wait()
	return answers, readErr
}

// status asks one member about itself on its own client URLs.
func (o *Observer) status(ctx context.Context, m Member) answer {
	key := memberKey(m)
	cli, err := o.conns.get(key, m.ClientURLs)
	if err != nil {
		return answer{Err: err}
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	defer cancel()
	mc := clientv3.RetryMaintenanceClient(cli, cli.ActiveConnection())
	resp, err := mc.Status(cctx, &pb.StatusRequest{})
	if err != nil {
		o.conns.drop(key)
		return answer{Err: fmt.Errorf("status of %s: %w", strings.Join(m.ClientURLs, ","), err)}
	}
	return answer{
		MemberID: resp.GetHeader().GetMemberId(),
		Leader:   resp.Leader,
		Term:     resp.RaftTerm,
		Errors:   resp.Errors,
	}
}

// linearizableRead fails unless the local member can confirm with a quorum
// that it is up to date (ReadIndex). WithRequireLeader makes a member that
// has no leader refuse at once instead of waiting for the timeout.
func (o *Observer) linearizableRead(ctx context.Context) error {
	key := localKey(o.cfg.Endpoint)
	cli, err := o.conns.get(key, []string{o.cfg.Endpoint})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), o.cfg.CallTimeout)
	defer cancel()
	if _, err := cli.Get(cctx, probeKey); err != nil {
		o.conns.drop(key)
		return fmt.Errorf("linearizable read via %s: %w", o.cfg.Endpoint, err)
	}
	return nil
}
