package nodereport

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/internal/kube"
)

var nodesResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// writtenCondition is the condition as last written (or found at start).
type writtenCondition struct {
	Condition
	present    bool
	transition string // lastTransitionTime, RFC 3339
}

// readNode reads the Node's UID and the NodeagentReady condition on it.
func (w *Writer) readNode(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	n, err := w.client.Resource(nodesResource).Get(ctx, w.node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s: %w", w.node, err)
	}
	w.uid = string(n.GetUID())
	w.written = existingCondition(n)
	return nil
}

func existingCondition(n *unstructured.Unstructured) *writtenCondition {
	conds, _, _ := unstructured.NestedSlice(n.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != kube.ConditionType {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		return &writtenCondition{present: true, transition: str("lastTransitionTime"),
			Condition: Condition{OK: str("status") == "True", Reason: str("reason"), Message: str("message")}}
	}
	return &writtenCondition{}
}

// writeCondition patches the condition when it differs from what is there.
// lastTransitionTime moves only when the status flips; lastHeartbeatTime
// is the time of this write (nodeagent writes on change only, so it is not
// a liveness signal: the kubelet's Ready condition is).
func (w *Writer) writeCondition(ctx context.Context, c Condition) {
	if w.written.present && w.written.Condition == c {
		return
	}
	now := w.clock.Now().UTC().Format(time.RFC3339)
	transition := w.written.transition
	if !w.written.present || w.written.OK != c.OK || transition == "" {
		transition = now
	}
	patch, err := conditionPatch(c, transition, now)
	if err != nil {
		w.logError("cannot encode the node condition", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	// A strategic merge patch merges status.conditions by type: the
	// kubelet's conditions are left as they are.
	w.countWrite()
	_, err = w.client.Resource(nodesResource).Patch(ctx, w.node, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "nodeagent"}, "status")
	if err != nil {
		// The condition stays wanted: the next Set or Record tries again.
		w.logError("cannot write the node condition", err)
		return
	}
	w.written = &writtenCondition{Condition: c, present: true, transition: transition}
}

func conditionPatch(c Condition, transition, now string) ([]byte, error) {
	cond := map[string]string{
		"type": kube.ConditionType, "status": statusOf(c.OK), "reason": c.Reason, "message": c.Message,
		"lastTransitionTime": transition, "lastHeartbeatTime": now,
	}
	return json.Marshal(map[string]any{"status": map[string]any{"conditions": []any{cond}}})
}

func statusOf(ok bool) string {
	if ok {
		return "True"
	}
	return "False"
}

func joinFields(s string) string { return strings.Join(strings.Fields(s), " ") }
