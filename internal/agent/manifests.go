package agent

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/quorum"
)

// leaseWait bounds how long a server waits for the apply lease: the holder
// applies and releases within seconds when all is well, and whoever comes
// after it finds everything unchanged.
const leaseWait = 2 * time.Minute

// applyManifests renders the cluster's manifests and the overlay and applies
// them, once, as the holder of the apply lease, stopping at a step boundary
// if quorum is lost. Objects whose kinds a chart has not installed yet stay
// pending; the daemon's next pass applies them.
func (a *Agent) applyManifests(ctx context.Context) error {
	set, err := manifests.Render(a.cluster())
	if err != nil {
		return fmt.Errorf("rendering manifests: %w", err)
	}
	overlay, err := apply.LoadOverlay(a.Root, a.cluster().Apply.OverlayDir)
	if err != nil {
		return err
	}
	objs := apply.Merge(set.Objects(), overlay)
	engine, err := a.applyEngine(ctx)
	if err != nil {
		return err
	}
	client, err := a.kubeClient()
	if err != nil {
		return err
	}
	leader := apply.NewLeader(client, a.Node.Name, apply.LeaderConfig{}, a.log)
	a.Reporter.Status("waiting for the apply lease")
	err = leader.TryRun(ctx, leaseWait, func(ctx context.Context) error {
		a.Reporter.Status(fmt.Sprintf("applying %d objects", len(objs)))
		report, err := engine.Apply(ctx, objs)
		if err != nil {
			return err
		}
		a.log.Info("manifests applied", zap.String("summary", report.Summary()), zap.Bool("stopped", report.Stopped))
		if report.Stopped {
			return fmt.Errorf("apply stopped: %w", quorum.ErrNoQuorum)
		}
		return report.Err()
	})
	if apply.IsHeld(err) {
		a.log.Info("another server holds the apply lease: it applies", zap.Error(err))
		return nil
	}
	return err
}

// applyEngine keeps one engine per configuration: its discovery cache is what
// makes the daemon's no-op re-apply cheap.
func (a *Agent) applyEngine(ctx context.Context) (*apply.Engine, error) {
	if a.engine != nil {
		return a.engine, nil
	}
	cfg, err := kube.RestConfig(a.Root.Path(KubeconfigPath))
	if err != nil {
		return nil, err
	}
	gate := a.gate()
	e, err := apply.New(cfg, apply.Options{
		ForceConflicts: a.cluster().Apply.ForceConflicts,
		// The daemon's context: the gate outlives one apply.
		Held:  func() bool { return gate.Held(ctx) },
		Clock: a.Clock,
	}, a.log)
	if err != nil {
		return nil, err
	}
	a.engine = e
	return e, nil
}
