package agent

import (
	"context"
	"errors"
)

// ServerWork is what a server does through etcd and the typed Kubernetes
// API: the quorum gate, the manifests, and its turn in a rolling k3s
// restart. They need client-go's typed clientset and the etcd v3 client,
// which the resident daemon does not link: `nodeagent join` runs them in
// process (internal/serverwork), the daemon in child processes
// (serverwork/child.Command). status is told what each waits for.
type ServerWork interface {
	// WaitQuorum returns once etcd has quorum.
	WaitQuorum(ctx context.Context, status func(string)) error
	// ApplyManifests applies the cluster's manifests as the apply lease holder.
	ApplyManifests(ctx context.Context, status func(string)) error
	// ClaimRestart returns once this server may restart k3s: the other etcd
	// voters healthy and no other server restarting (it holds the turn).
	// version is the k3s version the restart installs ("" for none); one
	// that failed on another server is refused.
	ClaimRestart(ctx context.Context, version string, status func(string)) error
	// ReleaseRestart waits until this etcd member is healthy again (and its
	// Node reports version, when not "") and passes the turn on.
	ReleaseRestart(ctx context.Context, version string, status func(string)) error
	// FailRestart records that version did not come back here (reason),
	// stopping the rollout, and passes the turn on once etcd is healthy.
	FailRestart(ctx context.Context, version, reason string, status func(string)) error
	// ReplaceStaleMember removes this server's own etcd member, left by an
	// earlier life of the node, through the server at via (its supervisor
	// URL, whose CA hashes to caHash) before k3s first joins, when it is
	// dead, has this node's peer URL and its removal keeps quorum. nil when
	// there is none; an error when one is there but may not go.
	ReplaceStaleMember(ctx context.Context, via, caHash string, status func(string)) error
	// RejoinRestored moves this server's etcd data aside and rejoins when
	// another server restored etcd from a snapshot without it, and only
	// then (restore.DecideRejoin: a current restore record is the proof).
	RejoinRestored(ctx context.Context, status func(string)) error
	// RemoveLeftAgent deletes the Node of the agent name, which asked for
	// it when it left (kube.LeaveRequestLabel), once its kubelet stopped.
	RemoveLeftAgent(ctx context.Context, name string, status func(string)) error
	Close() error
}

var errNoServerWork = errors.New("this build runs no quorum or manifests step (no server work wired)")

// restartTurn is k3s's RestartTurn through the server work, telling the
// reporter what it waits for.
type restartTurn struct{ a *Agent }

func (t restartTurn) Claim(ctx context.Context, version string) error {
	if t.a.server == nil {
		return errNoServerWork
	}
	if err := t.a.server.ClaimRestart(ctx, version, t.a.Reporter.Status); err != nil {
		return err
	}
	if version != "" {
		t.a.Reporter.Status("upgrading k3s to " + version + " in this server's turn")
	} else {
		t.a.Reporter.Status("restarting k3s in this server's turn")
	}
	t.a.report.restartTurn(true, nil)
	return nil
}

func (t restartTurn) Release(ctx context.Context, version string) error {
	err := t.a.server.ReleaseRestart(ctx, version, t.a.Reporter.Status)
	t.a.report.restartTurn(false, err)
	return err
}

func (t restartTurn) Fail(ctx context.Context, version, reason string) error {
	t.a.Reporter.Status("k3s " + version + " did not come back: rolled back, stopping the rollout")
	err := t.a.server.FailRestart(ctx, version, reason, t.a.Reporter.Status)
	t.a.report.restartTurn(false, err)
	return err
}
