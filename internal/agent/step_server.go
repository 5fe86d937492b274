package agent

import (
	"context"
	"fmt"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

// quorumStep holds the manifests back until etcd has quorum (servers).
type quorumStep struct{ a *Agent }

func (quorumStep) Name() string    { return StepQuorum }
func (s quorumStep) Applies() bool { return s.a.Node.Role == config.RoleServer }

func (s quorumStep) Apply(ctx context.Context) error {
	if s.a.server == nil {
		return errNoServerWork
	}
	return s.a.server.WaitQuorum(ctx, s.a.Reporter.Status)
}

func (s quorumStep) Plan(context.Context, bool) (plan.Step, error) {
	c := s.a.cluster()
	n := len(c.Servers())
	return plan.Step{Name: StepQuorum, Summary: fmt.Sprintf("wait up to %s until %d of %d etcd voters are healthy, then compete for the apply lease",
		c.Apply.QuorumTimeout.Duration, n/2+1, n)}, nil
}

// Status has nothing here: the etcd view needs the etcd client, which the
// status command adds itself.
func (quorumStep) Status(context.Context, *StatusReport) error { return nil }

// manifestsStep applies the cluster's manifests as the apply lease holder.
type manifestsStep struct{ a *Agent }

func (manifestsStep) Name() string    { return StepManifests }
func (s manifestsStep) Applies() bool { return s.a.Node.Role == config.RoleServer }

func (s manifestsStep) Apply(ctx context.Context) error {
	if s.a.server == nil {
		return errNoServerWork
	}
	defer s.a.report.manifestsApplied(s.a.Root, s.a.Clock.Now())
	return s.a.server.ApplyManifests(ctx, s.a.Reporter.Status)
}

// Plan points at the cluster plan: the manifests are the cluster's, applied
// once by whichever server holds the apply lease.
func (s manifestsStep) Plan(context.Context, bool) (plan.Step, error) {
	return plan.Step{Name: StepManifests, Summary: fmt.Sprintf("apply the cluster's manifests if this server holds the apply lease (Lease kube-system/nodeagent-apply), new workloads once the nodes their pods are placed on are Ready (up to %s); see the cluster plan",
		s.a.cluster().Apply.NodesTimeout.Duration)}, nil
}

// Status reads the record of the last apply on this server.
func (s manifestsStep) Status(_ context.Context, r *StatusReport) error {
	if !s.Applies() {
		return nil
	}
	rec, err := child.LoadApplyRecord(s.a.Root)
	r.Manifests = rec
	return err
}
