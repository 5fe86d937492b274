package serverwork

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// A server holds the restart Lease from just before its k3s restart until
// its etcd member is healthy again, so servers restart one at a time when a
// cluster-file change reaches them all at once. The Lease is claimed and
// released by compare-and-swap; its holder renews it only while it waits for
// its etcd member, since its own apiserver is down while k3s restarts.
// Another server takes it over after it went restartLeaseDuration unchanged
// by that server's own clock (see leaseSeen).
const (
	RestartLeaseNamespace = "kube-system"
	RestartLeaseName      = "nodeagent-k3s-restart"
	// restartLeaseDuration frees the Lease of a server that died mid-restart.
	restartLeaseDuration = 10 * time.Minute
	// restartWait bounds each of the waits, for a turn and for health after
	// the restart; the daemon retries a turn it did not get.
	restartWait = 15 * time.Minute
	restartPoll = 2 * time.Second
)

// ClaimRestart waits until this server may restart k3s — every other etcd
// voter healthy and no other server restarting — and claims the Lease.
// version is the k3s version the restart installs ("" for none): it is
// recorded on the Lease as the rollout in progress, and a version that did
// not come back on another server is refused at once (ErrRolloutStopped).
func (p *Work) ClaimRestart(ctx context.Context, version string, status func(string)) error {
	client, err := p.clientset()
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	err = p.pollUntil(ctx, "a turn to restart k3s", func(ctx context.Context) (bool, error) {
		if err := p.stopSafe(ctx); err != nil {
			status("waiting to restart k3s: " + err.Error())
			return false, err
		}
		holder, err := p.claimLease(ctx, client, version)
		if errors.Is(err, ErrRolloutStopped) {
			stop(err)
			return false, err
		}
		if err != nil || holder != "" {
			if holder != "" {
				err = fmt.Errorf("%s is restarting", holder)
			}
			status("waiting to restart k3s: " + err.Error())
			return false, err
		}
		// Another server may have gone down between the check and the claim.
		if err := p.stopSafe(ctx); err != nil {
			status("waiting to restart k3s: " + err.Error())
			return false, errors.Join(err, p.releaseLease(ctx, client))
		}
		p.log.Info("restart lease claimed", zap.String("k3s_version", version))
		return true, nil
	})
	if cause := context.Cause(ctx); errors.Is(cause, ErrRolloutStopped) {
		return cause
	}
	return err
}

// ReleaseRestart waits until this server's etcd member is healthy again,
// quorum holds and, when the restart installed k3s version (not ""), this
// Node reports that version, then frees the Lease for the next server.
func (p *Work) ReleaseRestart(ctx context.Context, version string, status func(string)) error {
	client, err := p.clientset()
	if err != nil {
		return err
	}
	status("waiting for this etcd member to be healthy again")
	return p.pollUntil(ctx, "etcd healthy after the k3s restart", func(ctx context.Context) (bool, error) {
		if err := p.cameBack(ctx, client, version); err != nil {
			// Still restarting: tell the others this holder is alive.
			if err := p.renewLease(ctx, client); err != nil {
				p.log.Debug("restart lease not renewed", zap.Error(err))
			}
			return false, err
		}
		if err := p.releaseLease(ctx, client); err != nil {
			return false, err
		}
		p.log.Info("restart lease released", zap.String("k3s_version", version))
		return true, nil
	})
}

// cameBack is nil once this etcd member is healthy, quorum holds and this
// Node's kubelet reports version (when not "").
func (p *Work) cameBack(ctx context.Context, client kubernetes.Interface, version string) error {
	st, err := p.quorum.Observe(ctx)
	if err != nil {
		return err
	}
	if !st.Quorum() || !selfHealthy(st.Members, st.Self) {
		return fmt.Errorf("not yet: %s", st.Summary())
	}
	if version == "" {
		return nil
	}
	return p.nodeReports(ctx, client, version)
}

// nodeReports is nil once this Node's kubelet reports k3s version (k3s's
// kubelet version is the k3s version, v1.33.5+k3s1).
func (p *Work) nodeReports(ctx context.Context, client kubernetes.Interface, version string) error {
	n, err := client.CoreV1().Nodes().Get(ctx, p.cfg.Node.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s: %w", p.cfg.Node.Name, err)
	}
	if got := n.Status.NodeInfo.KubeletVersion; got != version {
		return fmt.Errorf("not yet: node %s reports k3s %q, want %s", p.cfg.Node.Name, got, version)
	}
	return nil
}

// FailRestart records on the Lease that k3s version did not come back on
// this server (reason), which stops the rollout on every server, once the
// API answers again (this server's own k3s, back on its previous binary);
// then it waits for this etcd member like ReleaseRestart and frees the turn.
func (p *Work) FailRestart(ctx context.Context, version, reason string, status func(string)) error {
	client, err := p.clientset()
	if err != nil {
		return err
	}
	status("recording the failed k3s " + version + " rollout")
	r := Rollout{Version: version, Node: p.cfg.Node.Name, Since: p.cfg.Clock.Now(), Reason: reason}
	err = p.pollUntil(ctx, "the failed rollout recorded", func(ctx context.Context) (bool, error) {
		err := p.recordFailure(ctx, client, r)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	p.log.Error("k3s rollout stopped: the new version did not come back on this server; rolled back",
		zap.String("k3s_version", version), zap.String("reason", reason))
	return p.ReleaseRestart(ctx, "", status)
}

// Rollout reads the k3s rollout from the restart Lease: the server
// upgrading now and the version that failed, if any.
func (p *Work) Rollout(ctx context.Context) (RolloutStatus, error) {
	client, err := p.clientset()
	if err != nil {
		return RolloutStatus{}, err
	}
	return readRollout(ctx, client)
}

func readRollout(ctx context.Context, client kubernetes.Interface) (RolloutStatus, error) {
	l, err := client.CoordinationV1().Leases(RestartLeaseNamespace).Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return RolloutStatus{}, nil
	}
	if err != nil {
		return RolloutStatus{}, leaseErr("reading", err)
	}
	return rolloutStatusOf(l), nil
}

func (p *Work) stopSafe(ctx context.Context) error {
	st, err := p.quorum.Observe(ctx)
	if err != nil {
		return err
	}
	return st.StopSafe(p.minHealthyVoters())
}

// claimLease takes the Lease if it is free, expired or already this node's,
// and returns "" then; else the holder. A conflicting write is an error to
// retry. version is the k3s version the restart installs (decideRolloutClaim).
func (p *Work) claimLease(ctx context.Context, client kubernetes.Interface, version string) (holder string, err error) {
	leases := client.CoordinationV1().Leases(RestartLeaseNamespace)
	me := p.cfg.Node.Name
	now := metav1.NewMicroTime(p.cfg.Clock.Now())
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       &me,
		LeaseDurationSeconds: ptr(int32(restartLeaseDuration / time.Second)),
		AcquireTime:          &now,
		RenewTime:            &now,
	}
	var rollout *Rollout
	if version != "" {
		rollout = &Rollout{Version: version, Node: me, Since: now.Time}
	}
	l, err := leases.Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: RestartLeaseName, Namespace: RestartLeaseNamespace}, Spec: spec}
		setRollout(l, RolloutAnnotation, rollout)
		_, err = leases.Create(ctx, l, metav1.CreateOptions{FieldManager: kube.FieldManager})
		return "", leaseErr("claiming", err)
	}
	if err != nil {
		return "", leaseErr("reading", err)
	}
	clear, err := decideRolloutClaim(rolloutOf(l, RolloutFailedAnnotation), version)
	if err != nil {
		return "", err
	}
	if h := holderOf(l); h != "" && h != me && !p.expired(l) {
		return h, nil
	}
	if clear {
		p.log.Info("k3s rollout record cleared: the cluster file asks for another version", zap.String("k3s_version", version))
		setRollout(l, RolloutFailedAnnotation, nil)
	}
	if prev := rolloutOf(l, RolloutAnnotation); prev != nil && rollout != nil && prev.Node == me && prev.Version == version {
		rollout.Since = prev.Since // the same upgrade claimed again
	}
	setRollout(l, RolloutAnnotation, rollout)
	l.Spec = spec
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return "", leaseErr("claiming", err)
}

// renewLease moves the Lease's RenewTime on if this node holds it, so that
// the others see its holder is alive while it waits for its etcd member.
func (p *Work) renewLease(ctx context.Context, client kubernetes.Interface) error {
	leases := client.CoordinationV1().Leases(RestartLeaseNamespace)
	l, err := leases.Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if err != nil {
		return leaseErr("reading", err)
	}
	if holderOf(l) != p.cfg.Node.Name {
		return fmt.Errorf("lease %s/%s: held by %q, not this node", RestartLeaseNamespace, RestartLeaseName, holderOf(l))
	}
	now := metav1.NewMicroTime(p.cfg.Clock.Now())
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return leaseErr("renewing", err)
}

// releaseLease frees the Lease if this node holds it.
func (p *Work) releaseLease(ctx context.Context, client kubernetes.Interface) error {
	leases := client.CoordinationV1().Leases(RestartLeaseNamespace)
	l, err := leases.Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return leaseErr("reading", err)
	}
	if holderOf(l) != p.cfg.Node.Name {
		return nil
	}
	l.Spec.HolderIdentity = nil
	setRollout(l, RolloutAnnotation, nil)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return leaseErr("releasing", err)
}

// recordFailure writes r as the failed rollout on the Lease, whoever holds
// it (a Lease taken over meanwhile is still the one every server reads).
func (p *Work) recordFailure(ctx context.Context, client kubernetes.Interface, r Rollout) error {
	leases := client.CoordinationV1().Leases(RestartLeaseNamespace)
	l, err := leases.Get(ctx, RestartLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: RestartLeaseName, Namespace: RestartLeaseNamespace}}
		setRollout(l, RolloutFailedAnnotation, &r)
		_, err = leases.Create(ctx, l, metav1.CreateOptions{FieldManager: kube.FieldManager})
		return leaseErr("recording the failed rollout on", err)
	}
	if err != nil {
		return leaseErr("reading", err)
	}
	setRollout(l, RolloutFailedAnnotation, &r)
	if holderOf(l) == p.cfg.Node.Name {
		setRollout(l, RolloutAnnotation, nil)
	}
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return leaseErr("recording the failed rollout on", err)
}

// expired reports whether l's holder let it go a whole lease duration
// without renewal while this node watched: a node that has just started
// waits that long from its first look (see leaseSeen).
func (p *Work) expired(l *coordinationv1.Lease) bool {
	return p.restartSeen.observe(l, p.cfg.Clock.Now()) > leaseDuration(l, restartLeaseDuration)
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func leaseErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s lease %s/%s: %w", what, RestartLeaseNamespace, RestartLeaseName, err)
}

func selfHealthy(members []quorum.Member, self uint64) bool {
	for _, m := range members {
		if m.ID == self {
			return m.Healthy
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// pollUntil polls check every restartPoll for up to restartWait, each
// attempt bounded so that one hung member cannot eat the whole wait.
func (p *Work) pollUntil(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	return host.PollUntil(ctx, p.cfg.Clock, what, restartWait, restartPoll, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return check(ctx)
	})
}
