package serverwork

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/host"
)

// SealedKeysWait bounds how long an apply holds back a new sealed-secrets
// HelmChart for the backups node's key check: that node comes up with the
// others after a rebuild and checks its keys right after quorum, within a
// few minutes even with a slow disk; a dead one delays sealed-secrets by
// this much only. The controller then makes a key of its own, and the
// backups node, back later, puts the saved keys back and restarts it.
const SealedKeysWait = 15 * time.Minute

// sealedGatePath records when this server first saw the gate closed, on
// its own clock (STYLE 15): each apply is a short-lived child.
const sealedGatePath = "/var/lib/nodeagent/sealed-keys-gate.json"

type sealedGateRecord struct {
	FirstClosed time.Time `json:"firstClosed"`
}

// GateState is the outcome of the sealed-secrets gate for one apply.
type GateState struct {
	// Hold: leave the sealed-secrets HelmChart out of this apply.
	Hold bool
	// Note says why, for status; "" when the gate is not in play.
	Note string
}

// DecideSealedGate is the pure gate: the chart goes in when backups or
// sealed-secrets are off, when the chart is in the cluster already (it is
// never held back once installed: leaving it out would let the prune
// remove it), when the backups node has recorded its check, or when the
// wait since firstClosed has run out.
func DecideSealedGate(enabled, chartExists, marker bool, backupsNode string, firstClosed, now time.Time) GateState {
	if !enabled || chartExists || marker {
		return GateState{}
	}
	waited := now.Sub(firstClosed).Truncate(time.Second)
	if waited >= SealedKeysWait {
		return GateState{Note: fmt.Sprintf("sealed-secrets installed without the key check of %s (waited %s): it makes a new key; %s puts the saved ones back when it is up",
			backupsNode, SealedKeysWait, backupsNode)}
	}
	return GateState{Hold: true, Note: fmt.Sprintf("sealed-secrets held back until %s has checked its saved keys (waited %s of %s)",
		backupsNode, waited, SealedKeysWait)}
}

// sealedSecretsGate reads what DecideSealedGate needs from the cluster and
// this server's record of when it first saw the gate closed.
func (p *Work) sealedSecretsGate(ctx context.Context, client kubernetes.Interface) (GateState, error) {
	c := p.cfg.Cluster
	if !c.Backups.Enabled() || !c.Platform.SealedSecrets.IsEnabled() {
		return GateState{}, nil
	}
	chart, err := exists(client.CoreV1().RESTClient().Get().AbsPath("/apis/helm.cattle.io/v1/namespaces", helmChartNS, "helmcharts", c.Platform.SealedSecrets.Chart).Do(ctx).Error())
	if err != nil {
		return GateState{}, fmt.Errorf("reading the sealed-secrets HelmChart: %w", err)
	}
	_, err = client.CoreV1().ConfigMaps("kube-system").Get(ctx, SealedKeysMarker, metav1.GetOptions{})
	marker, err := exists(err)
	if err != nil {
		return GateState{}, fmt.Errorf("reading kube-system/%s: %w", SealedKeysMarker, err)
	}
	now := p.cfg.Clock.Now()
	first := now
	if !chart && !marker {
		first = p.firstClosed(now)
	} else {
		// Open: a later closed gate (the cluster reset without a re-flash)
		// waits its full time again.
		p.forgetFirstClosed()
	}
	return DecideSealedGate(true, chart, marker, c.Backups.Node, first, now), nil
}

const helmChartNS = "kube-system"

// exists turns a Get's error into found / not found / failed.
func exists(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, err
}

// firstClosed returns when this server first saw the gate closed, recording
// now if it never did. A record it cannot write costs the bound, not the
// apply: the next apply starts the wait again.
func (p *Work) firstClosed(now time.Time) time.Time {
	file := p.cfg.Root.Path(sealedGatePath)
	var rec sealedGateRecord
	data, err := os.ReadFile(file)
	if err == nil && json.Unmarshal(data, &rec) == nil && !rec.FirstClosed.IsZero() && !rec.FirstClosed.After(now) {
		return rec.FirstClosed
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.log.Warn("cannot read the sealed-secrets gate record", zap.Error(err))
	}
	data, _ = json.Marshal(sealedGateRecord{FirstClosed: now.UTC()})
	if _, err := host.WriteFileAtomic(file, data, 0o600); err != nil {
		p.log.Warn("cannot record the sealed-secrets gate", zap.Error(err))
	}
	return now
}

// forgetFirstClosed removes the record of a closed gate, if any.
func (p *Work) forgetFirstClosed() {
	if err := os.Remove(p.cfg.Root.Path(sealedGatePath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.log.Warn("cannot remove the sealed-secrets gate record", zap.Error(err))
	}
}

// holdSealedSecrets leaves the sealed-secrets HelmChart out of objs.
func holdSealedSecrets(objs []*unstructured.Unstructured, chart string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		if o.GetKind() == "HelmChart" && o.GetNamespace() == helmChartNS && o.GetName() == chart {
			continue
		}
		out = append(out, o)
	}
	return out
}

// sealedMarkerWait is how long an apply that holds the lease waits for the
// backups node's key check before it applies the rest without
// sealed-secrets: that check comes right after quorum, as the apply does,
// so it is usually seconds away, and waiting here saves a pass.
const sealedMarkerWait = 3 * time.Minute

// ErrSealedSecretsHeld ends an apply that left sealed-secrets out: the pass
// is not in step, so the daemon retries it (and the gate) on its backoff,
// not at the next resync.
var ErrSealedSecretsHeld = errors.New("sealed-secrets held back")

// gateSealedSecrets applies the gate to the set an apply is about to apply:
// while it holds, it waits up to wait for it to open, then returns the set
// without the sealed-secrets HelmChart, the note status shows, and held.
func (p *Work) gateSealedSecrets(ctx context.Context, client kubernetes.Interface, set apply.Set, wait time.Duration, status func(string)) (apply.Set, []string, bool, error) {
	g, err := p.sealedSecretsGate(ctx, client)
	if err != nil {
		return set, nil, false, err
	}
	if g.Hold && wait > 0 {
		status(g.Note + "; waiting up to " + wait.String() + " in this apply")
		since := p.cfg.Clock.Now()
		defer func() {
			p.log.Info("waited for the backups node's key check", zap.Bool("open", !g.Hold),
				zap.Duration("waited", p.cfg.Clock.Now().Sub(since)))
		}()
		perr := host.PollUntil(ctx, p.cfg.Clock, "the backups node's key check", wait, 2*time.Second, func(ctx context.Context) (bool, error) {
			g, err = p.sealedSecretsGate(ctx, client)
			return err == nil && !g.Hold, err
		})
		if ctx.Err() != nil {
			return set, nil, false, perr
		}
		if err != nil {
			return set, nil, false, err
		}
	}
	if g.Note == "" {
		return set, nil, false, nil
	}
	status(g.Note)
	p.log.Info("sealed-secrets gate", zap.Bool("hold", g.Hold), zap.String("note", g.Note))
	if g.Hold {
		set.Builtin = holdSealedSecrets(set.Builtin, p.cfg.Cluster.Platform.SealedSecrets.Chart)
	}
	return set, []string{g.Note}, g.Hold, nil
}
