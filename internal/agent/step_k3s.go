package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// k3sStep decides how k3s joins, then installs, configures and starts it.
type k3sStep struct{ a *Agent }

func (k3sStep) Name() string  { return StepK3s }
func (k3sStep) Applies() bool { return true }

// Apply decides the join (a node that never joined asks the other servers
// which has the cluster, k3s.DecideJoin; one that has keeps its settings),
// installs, configures and starts k3s, and records the cluster CA once this
// server is an etcd member.
func (s k3sStep) Apply(ctx context.Context) error {
	a := s.a
	st, err := a.loadState()
	if err != nil {
		return err
	}
	if err := s.rejoinRestored(ctx); err != nil {
		return err
	}
	d, err := s.decideWhileFetching(ctx, st.ClusterCA)
	if err != nil {
		return err
	}
	d = s.followRejoin(d, st.ClusterCA)
	if !d.Kept {
		a.Reporter.Status(d.Reason)
	}
	if err := s.replaceStaleMember(ctx, d); err != nil {
		return err
	}
	res, err := s.ensureCheckingForRestore(ctx, d.Join)
	if err != nil {
		return err
	}
	a.log.Info("k3s running", zap.Bool("changed", res.Changed()), zap.Bool("restarted", res.Restarted))
	a.upgradeHeld = res.Held // the worker says it and asks again soon
	return s.recordCA(st)
}

// decideWhileFetching decides how to join while the release downloads: on
// a fresh homelab every server but the first waits here for the first one,
// and the download need not come after that wait.
func (s k3sStep) decideWhileFetching(ctx context.Context, knownCA string) (k3s.JoinDecision, error) {
	a := s.a
	fetchCtx, stop := context.WithCancel(ctx)
	defer stop()
	fetched := make(chan error, 1)
	go func() { fetched <- a.k3s.Prefetch(fetchCtx) }()
	d, err := a.k3s.DecideJoin(ctx, knownCA, func(d k3s.JoinDecision) { a.Reporter.Status(d.Reason) })
	if err != nil {
		stop()
	}
	if ferr := <-fetched; ferr != nil && err == nil {
		a.log.Info("fetching the k3s release ahead failed; the install tries again", zap.Error(ferr))
	}
	return d, err
}

// replaceStaleMember removes, before k3s first starts on a server that
// joins through another, the etcd member an earlier life of this node left
// behind (a re-flashed SD card): k3s refuses to join while it exists
// ("duplicate node name found"). The server work decides
// (quorum.DecideStaleMember) and says what it did; see
// docs/stale-member.md.
func (s k3sStep) replaceStaleMember(ctx context.Context, d k3s.JoinDecision) error {
	a := s.a
	if a.server == nil || a.Node.Role != config.RoleServer || d.Kept || d.ClusterInit || d.Server == "" ||
		k3s.IsEtcdMember(a.Root) {
		return nil
	}
	return a.server.ReplaceStaleMember(ctx, d.Server, d.CAHash, a.report.staleMemberStatus(a.Reporter.Status))
}

// recordCA keeps the hash of the cluster CA in state.json once this
// server is an etcd member (the join succeeded).
func (s k3sStep) recordCA(st State) error {
	a := s.a
	if a.Node.Role != config.RoleServer || !k3s.IsEtcdMember(a.Root) {
		return nil
	}
	hash, ok, err := k3s.ClusterCAHash(a.Root)
	if err != nil || !ok || hash == st.ClusterCA {
		return err
	}
	st.ClusterCA = hash
	if err := SaveState(a.Root, st); err != nil {
		return err
	}
	a.log.Info("recorded the cluster CA", zap.String("ca_sha256", hash))
	return nil
}

func (s k3sStep) Plan(ctx context.Context, live bool) (plan.Step, error) {
	if live {
		return s.a.k3s.PlanLive(ctx)
	}
	return k3s.Plan(s.a.cluster(), s.a.Node)
}

func (s k3sStep) Status(ctx context.Context, r *StatusReport) error {
	r.K3sVersion = s.a.cluster().K3s.Version
	r.K3sInstalled, _ = s.a.k3s.InstalledVersion()
	if s.a.Systemd == nil {
		return nil
	}
	u, err := s.a.Systemd.State(ctx, k3s.UnitName(s.a.Node.Role))
	if err != nil {
		return err
	}
	r.K3sUnit = u.String()
	return nil
}

// Checks checks the token files this node's role needs (present and
// readable by root only) and that the k3s release can be had. An agent
// needs only the agent token; the server token is not looked for there.
func (s k3sStep) Checks(ctx context.Context) []preflight.Check {
	k := s.a.cluster().K3s
	agent := s.tokenCheck("agent-token", k.AgentTokenFile, k3s.ReadAgentToken,
		"nodeagent token generate --agent on one node, then copy the file to every node")
	if s.a.Node.Role != config.RoleServer {
		return []preflight.Check{agent, s.releaseCheck(ctx)}
	}
	if !agent.OK && !k3s.AgentTokenNeeded(s.a.cluster()) {
		if _, err := os.Stat(s.a.Root.Path(k.AgentTokenFile)); errors.Is(err, fs.ErrNotExist) {
			agent = preflight.Check{Name: "agent-token", OK: true, Message: "not needed: the cluster file lists no agent node"}
		}
	}
	server := s.tokenCheck("token", k.TokenFile, k3s.ReadToken,
		"nodeagent token generate on one server, then copy the file to every server (never to an agent)")
	checks := []preflight.Check{server, agent}
	if s3 := k.EtcdSnapshots.S3; s3.Enabled() {
		checks = append(checks, s.s3Check(s3.CredentialsFile))
	}
	return append(checks, s.releaseCheck(ctx))
}

// s3Check checks the etcd snapshot S3 credentials file as the k3s step
// will read it; the message never holds a key.
func (s k3sStep) s3Check(file string) preflight.Check {
	c := preflight.Check{Name: "etcd-s3-credentials", Severity: preflight.SeverityError, OK: true,
		Message: file + " holds accessKey and secretKey, readable by root only"}
	if _, err := k3s.ReadS3Credentials(s.a.Root.Path(file)); err != nil {
		c.OK, c.Message = false, err.Error()
		c.Fix = "write " + file + " on every server with the lines `accessKey: …` and `secretKey: …`, then chmod 600 it"
	}
	return c
}

func (s k3sStep) tokenCheck(name, file string, read func(string) (string, error), fix string) preflight.Check {
	c := preflight.Check{Name: name, Severity: preflight.SeverityError, OK: true, Message: file + " is readable by root only"}
	if _, err := read(s.a.Root.Path(file)); err != nil {
		c.OK, c.Message, c.Fix = false, err.Error(), fix
	}
	return c
}

// releaseCheck fetches the release's checksum file, with a short bound:
// doctor answers in seconds, where the install retries for minutes.
func (s k3sStep) releaseCheck(ctx context.Context) preflight.Check {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	msg, err := s.a.k3s.ReleaseReady(ctx)
	if err != nil {
		return preflight.Check{Name: "k3s-release", Severity: preflight.SeverityError, Message: err.Error(),
			Fix: "check this node's access to k3s.releaseBase (" + s.a.cluster().K3s.ReleaseBase + "), or point it at a local directory with <version>/k3s-<arch> and its sha256sum file (air-gapped)"}
	}
	return preflight.Check{Name: "k3s-release", OK: true, Message: msg}
}
