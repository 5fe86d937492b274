package kube

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/retry"
)

// FieldManager names nodeagent in managedFields.
const FieldManager = "nodeagent"

// LabelReconciler keeps the labels and annotations nodeagent owns on one
// Node as desired. It reads and patches only the Node's metadata: labels and
// annotations are all it owns.
type LabelReconciler struct {
	client metadata.Interface
	log    *zap.Logger
	// beforeWrite, when set, runs between reading the Node and patching it;
	// tests use it to provoke a write conflict.
	beforeWrite func()
}

// NewLabelReconciler returns a reconciler writing through client.
func NewLabelReconciler(client metadata.Interface, log *zap.Logger) *LabelReconciler {
	return &LabelReconciler{client: client, log: log.With(zap.String("component", "kube"))}
}

// Report is what one Reconcile did.
type Report struct {
	Changes   []Change   `json:"changes,omitempty"`
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Written is false when the Node already was as desired.
	Written bool `json:"written"`
}

// Reconcile brings the Node's nodeagent-owned labels and annotations to
// want in a single patch, or writes nothing when they already are. The patch
// carries the resourceVersion it was computed from, so a concurrent writer
// (kubelet, a person) makes it fail with a conflict instead of being
// overwritten, and it is recomputed from a fresh read.
func (r *LabelReconciler) Reconcile(ctx context.Context, nodeName string, want Desired) (Report, error) {
	var rep Report
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		node, err := GetNode(ctx, r.client, nodeName)
		if err != nil {
			return err
		}
		d, err := ComputeDiff(node.Labels, node.Annotations, want)
		if err != nil {
			return err
		}
		rep = Report{Changes: d.Changes, Conflicts: d.Conflicts}
		if d.Empty() {
			return nil
		}
		if r.beforeWrite != nil {
			r.beforeWrite()
		}
		if err := r.patch(ctx, node, d); err != nil {
			return err
		}
		rep.Written = true
		return nil
	})
	for _, c := range rep.Conflicts {
		r.log.Warn("node key set by hand differs, leaving it", zap.String("node", nodeName),
			zap.String("kind", string(c.Kind)), zap.String("key", c.Key), zap.String("have", c.Have), zap.String("want", c.Want))
	}
	if err != nil {
		return rep, err
	}
	if rep.Written {
		r.log.Info("node labels updated", zap.String("node", nodeName), zap.Any("changes", rep.Changes))
	} else {
		r.log.Debug("node labels already as desired", zap.String("node", nodeName))
	}
	return rep, nil
}

// patch writes d as a JSON merge patch; resourceVersion in the patch makes
// the apiserver reject it with 409 if the Node changed since it was read.
func (r *LabelReconciler) patch(ctx context.Context, node *metav1.PartialObjectMetadata, d Diff) error {
	meta := map[string]any{"resourceVersion": node.ResourceVersion}
	if len(d.Labels) > 0 {
		meta["labels"] = d.Labels
	}
	if len(d.Annotations) > 0 {
		meta["annotations"] = d.Annotations
	}
	data, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return fmt.Errorf("encoding label patch of node %s: %w", node.Name, err)
	}
	_, err = r.client.Resource(nodes).Patch(ctx, node.Name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: FieldManager})
	if apierrors.IsForbidden(err) {
		return refusedPatch(node.Name, d, err)
	}
	if err != nil {
		return fmt.Errorf("patching labels of node %s: %w", node.Name, err)
	}
	return nil
}
