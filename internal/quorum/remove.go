package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// memberRemoveTimeout bounds a MemberRemove: it is a raft proposal, so it
// needs the leader and a quorum, which take longer than a status call.
const memberRemoveTimeout = 10 * time.Second

// RemoveMember removes the etcd member id through the local endpoint, as
// k3s's own RemovePeer does (pkg/etcd/etcd.go) once its member controller
// has decided. Callers decide first (DecideStaleMember): etcd itself only
// refuses a removal that leaves too few started members.
func (o *Observer) RemoveMember(ctx context.Context, id uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := localKey(o.cfg.Endpoint)
	cli, err := o.conns.get(key, []string{o.cfg.Endpoint})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, max(memberRemoveTimeout, o.cfg.CallTimeout))
	defer cancel()
	if _, err := cli.MemberRemove(cctx, id); err != nil {
		o.conns.drop(key)
		return fmt.Errorf("removing etcd member %x via %s: %w", id, o.cfg.Endpoint, err)
	}
	o.log.Info("removed etcd member", zap.String("member_id", fmt.Sprintf("%x", id)), zap.String("endpoint", o.cfg.Endpoint))
	return nil
}

// WaitMemberGone polls the member list until id is no longer in it, for
// at most timeout, and returns the last observation.
func (o *Observer) WaitMemberGone(ctx context.Context, clock host.Clock, id uint64, timeout, interval time.Duration) (Status, error) {
	var last Status
	err := host.PollUntil(ctx, clock, fmt.Sprintf("etcd member %x removed", id), timeout, interval,
		func(ctx context.Context) (bool, error) {
			st, err := o.Observe(ctx)
			if err != nil {
				return false, err
			}
			last = st
			for _, m := range st.Members {
				if m.ID == id {
					return false, errors.New("still listed")
				}
			}
			return true, nil
		})
	return last, err
}
