package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.uber.org/zap"
)

// Learner management follows k3s's ETCD.manageLearners and
// trackLearnerProgress (pkg/etcd/etcd.go): every 15 s the member that is the
// etcd leader tries MemberPromote on each learner; etcd itself refuses while
// the learner is not in sync with the leader. A learner whose applied raft
// index has not moved for 5 minutes is removed. Progress is kept in etcd
// under k3s's key, so a new leader continues the count.
const (
	manageTickerTime    = 15 * time.Second
	learnerMaxStallTime = 5 * time.Minute
	learnerProgressKey  = "k3s/etcd/learnerProgress"
)

type learnerProgress struct {
	ID               uint64    `json:"id,omitempty"`
	Name             string    `json:"name,omitempty"`
	RaftAppliedIndex uint64    `json:"raftAppliedIndex,omitempty"`
	LastProgress     time.Time `json:"lastProgress,omitempty"`
}

// manageLearners runs until ctx ends.
func (m *etcdMember) manageLearners(ctx context.Context) {
	t := time.NewTicker(manageTickerTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tctx, cancel := context.WithTimeout(ctx, manageTickerTime)
		m.manageLearnersOnce(tctx)
		cancel()
	}
}

func (m *etcdMember) manageLearnersOnce(ctx context.Context) {
	st, err := m.cli.Status(ctx, m.local)
	if err != nil {
		m.log.Error("failed to check local etcd status for learner management", zap.Error(err))
		return
	}
	if st.Header.MemberId != st.Leader {
		return // only the leader manages learners
	}
	progress, err := m.learnerProgress(ctx)
	if err != nil {
		m.log.Error("failed to get recorded learner progress from etcd", zap.Error(err))
		return
	}
	list, err := m.cli.MemberList(ctx)
	if err != nil {
		m.log.Error("failed to get etcd members for learner management", zap.Error(err))
		return
	}
	for _, mem := range list.Members {
		if !mem.IsLearner {
			continue
		}
		if err := m.trackLearner(ctx, progress, mem); err != nil {
			m.log.Error("failed to track learner progress towards promotion", zap.Error(err))
		}
	}
}

func (m *etcdMember) trackLearner(ctx context.Context, progress *learnerProgress, mem *etcdserverpb.Member) error {
	if _, err := m.cli.MemberPromote(ctx, mem.ID); err == nil {
		m.log.Info("promoted learner", zap.String("member", mem.Name))
		return nil
	} else {
		m.log.Info("unable to promote learner", zap.String("member", mem.Name), zap.Error(err))
	}
	now := time.Now()
	if progress.Name != mem.Name || progress.ID != mem.ID {
		*progress = learnerProgress{ID: mem.ID, Name: mem.Name, LastProgress: now}
	}
	for _, ep := range mem.ClientURLs {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := m.cli.Status(sctx, ep)
		cancel()
		if err != nil {
			continue
		}
		if progress.RaftAppliedIndex < st.RaftAppliedIndex {
			progress.RaftAppliedIndex = st.RaftAppliedIndex
			progress.LastProgress = now
		}
		break
	}
	if !progress.LastProgress.Equal(now) {
		m.log.Warn("learner stalled", zap.String("member", progress.Name), zap.Uint64("raftAppliedIndex", progress.RaftAppliedIndex),
			zap.Duration("for", now.Sub(progress.LastProgress)))
	}
	if now.Sub(progress.LastProgress) > learnerMaxStallTime {
		if _, err := m.cli.MemberRemove(ctx, mem.ID); err != nil {
			return fmt.Errorf("removing stalled learner %s: %w", mem.Name, err)
		}
		m.log.Warn("removed learner from etcd cluster", zap.String("member", mem.Name))
		return nil
	}
	data, err := json.Marshal(progress)
	if err != nil {
		return err
	}
	_, err = m.cli.Put(ctx, learnerProgressKey, string(data))
	return err
}

func (m *etcdMember) learnerProgress(ctx context.Context) (*learnerProgress, error) {
	p := &learnerProgress{}
	resp, err := m.cli.Get(ctx, learnerProgressKey)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, p); err != nil {
		return nil, fmt.Errorf("decoding learner progress: %w", err)
	}
	return p, nil
}
