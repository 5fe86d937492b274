package k3s

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// probeBackoff is the schedule of the /cacerts probe rounds.
type probeBackoff struct {
	min, max, probeTimeout time.Duration
}

var defaultProbeBackoff = probeBackoff{min: 500 * time.Millisecond, max: 5 * time.Second, probeTimeout: 3 * time.Second}

// DefaultInitGrace is how long the first server waits for servers that do
// not answer /cacerts (down, slow, or no k3s listening yet) before it
// initialises a new cluster: on a brand-new homelab, once, those 20 s. A
// peer whose k3s has the cluster serves /cacerts within seconds of its
// start, before etcd (pkg/cluster/cluster.go Start).
const DefaultInitGrace = 20 * time.Second

// DecideJoin decides how k3s joins here. A node that has joined keeps the
// join keys of its config.yaml without asking anyone. Otherwise it probes
// every other configured server's /cacerts in rounds (all at once, backoff
// with jitter between rounds) until DecideJoin decides, for at most
// k3s.joinTimeout. knownCA is the cluster CA nodeagent recorded after this
// node's last join ("" if none); progress, if set, hears every undecided
// round.
func (m *Manager) DecideJoin(ctx context.Context, knownCA string, progress func(JoinDecision)) (JoinDecision, error) {
	j, joined, err := keptJoin(m.root, m.cluster, m.node)
	if err != nil {
		return JoinDecision{}, err
	}
	if joined {
		return JoinDecision{Join: j, Kept: true, Reason: "already joined: k3s starts from its data and ignores the join settings"}, nil
	}
	in, err := m.joinInput(knownCA)
	if err != nil {
		return JoinDecision{}, err
	}
	return m.probeUntilDecided(ctx, in, progress)
}

// joinInput is the decision's input without the peers' answers.
func (m *Manager) joinInput(knownCA string) (JoinInput, error) {
	tokens, err := ReadTokens(m.root, m.cluster, m.node)
	if err != nil {
		return JoinInput{}, err
	}
	pin, err := TokenCAPin(tokens.JoinToken(m.node))
	if err != nil {
		return JoinInput{}, fmt.Errorf("reading the join token of %s: %w", m.node.Name, err)
	}
	in := JoinInput{Pin: pin, PinFrom: "token"}
	if pin == "" && knownCA != "" {
		in.Pin, in.PinFrom = knownCA, "CA nodeagent recorded at this node's last join"
	}
	if pin != "" && knownCA != "" && pin != knownCA {
		m.log.Warn("the token pins another CA than the one recorded at the last join; following the token",
			zap.String("token_ca", pin), zap.String("recorded_ca", knownCA))
	}
	first, _ := m.cluster.FirstServer()
	in.First = m.node.Role == config.RoleServer && first.Name == m.node.Name
	return in, nil
}

func (m *Manager) probeUntilDecided(ctx context.Context, in JoinInput, progress func(JoinDecision)) (JoinDecision, error) {
	timeout := m.cluster.K3s.JoinTimeout.Duration
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := m.clock.Now()
	var d JoinDecision
	for round := 0; ; round++ {
		in.Peers = m.probePeers(ctx)
		in.GraceOver = m.clock.Now().Sub(start) >= m.InitGrace
		d = DecideJoin(in)
		if !d.Wait {
			m.log.Info("join decided", zap.String("decision", d.Reason), zap.Bool("cluster_init", d.ClusterInit),
				zap.String("server", d.Server), zap.String("ca_sha256", d.CAHash))
			return d, nil
		}
		m.log.Info("join not decided yet", zap.String("reason", d.Reason), zap.Int("round", round+1))
		if progress != nil {
			progress(d)
		}
		wait := release.ExpJitter(m.backoff.min, m.backoff.max, round)
		if !in.GraceOver && in.First && in.Pin == "" {
			wait = min(wait, m.InitGrace-m.clock.Now().Sub(start))
		}
		if err := host.Sleep(ctx, m.clock, max(wait, 0)); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return d, fmt.Errorf("no join decision after %s: %s", timeout, d.Reason)
			}
			return d, fmt.Errorf("deciding how to join: %w", err)
		}
	}
}

// probePeers asks every other configured server at once, each for at most
// the probe timeout, and returns the answers in cluster file order.
func (m *Manager) probePeers(ctx context.Context) []PeerAnswer {
	var peers []config.Node
	for _, s := range m.cluster.Servers() {
		if s.Name != m.node.Name {
			peers = append(peers, s)
		}
	}
	out := make([]PeerAnswer, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, m.backoff.probeTimeout)
			defer cancel()
			a := m.Prober.ProbeCA(pctx, SupervisorURL(p.Address))
			a.Name = p.Name
			out[i] = a
		})
	}
	wg.Wait()
	return out
}
