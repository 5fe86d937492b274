package nodereport

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Component is the source and reporting controller of nodeagent's Events.
const Component = "nodeagent"

// EventNamespace holds Events about Nodes, as the kubelet's: a Node has no
// namespace and kubectl describe node looks in all of them.
const EventNamespace = "default"

var eventsResource = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// Event is something that happened to the node.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

type pendingEvent struct {
	Event
	n  int // occurrences not yet written
	at time.Time
}

// maxPending bounds the Events waiting for the writer (the limiter already
// keeps them few; this guards an apiserver that never answers).
const maxPending = 32

// Record asks for an Event on the Node. It does not block. An Event that
// the rate limit refuses is dropped, logged at debug level.
func (w *Writer) Record(e Event) {
	e.Message = shorten(e.Message, maxMessage)
	now := w.clock.Now()
	w.mu.Lock()
	ok := w.limiter.allow(e.Reason, now) && w.queue(e, now)
	w.mu.Unlock()
	if !ok {
		w.log.Debug("event dropped by the rate limit", zap.String("reason", e.Reason), zap.String("message", e.Message))
		return
	}
	w.poke()
}

// queue adds e to the pending Events, folding it into an identical one
// not yet written. Called with mu held.
func (w *Writer) queue(e Event, now time.Time) bool {
	for i := range w.pending {
		if w.pending[i].Event == e {
			w.pending[i].n++
			w.pending[i].at = now
			return true
		}
	}
	if len(w.pending) >= maxPending {
		return false
	}
	w.pending = append(w.pending, pendingEvent{Event: e, n: 1, at: now})
	return true
}

// writeEvent bumps the count of the Event written before for the same
// reason and message, as client-go's correlator does, else creates one.
func (w *Writer) writeEvent(ctx context.Context, e pendingEvent) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if c, ok := w.events.get(e.Event); ok {
		err := w.bumpEvent(ctx, c, e)
		if err == nil {
			return
		}
		w.events.forget(e.Event)
		if !apierrors.IsNotFound(err) { // an expired Event is created anew
			w.logError("cannot update an event", err)
			return
		}
	}
	name, err := w.createEvent(ctx, e)
	if err != nil {
		w.logError("cannot record an event", err)
		return
	}
	w.events.put(e.Event, &cachedEvent{name: name, count: e.n})
}

func (w *Writer) bumpEvent(ctx context.Context, c *cachedEvent, e pendingEvent) error {
	patch, err := json.Marshal(map[string]any{"count": c.count + e.n, "lastTimestamp": e.at.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	w.countWrite()
	_, err = w.client.Resource(eventsResource).Namespace(EventNamespace).Patch(ctx, c.name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err == nil {
		c.count += e.n
	}
	return err
}

func (w *Writer) createEvent(ctx context.Context, e pendingEvent) (string, error) {
	name := fmt.Sprintf("%s.%x", w.node, e.at.UnixNano())
	typ := "Normal"
	if e.Warning {
		typ = "Warning"
	}
	at := e.at.UTC().Format(time.RFC3339)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata":       map[string]any{"name": name, "namespace": EventNamespace},
		"involvedObject": map[string]any{"apiVersion": "v1", "kind": "Node", "name": w.node, "uid": w.uid},
		"reason":         e.Reason, "message": e.Message, "type": typ,
		"source":             map[string]any{"component": Component, "host": w.node},
		"reportingComponent": Component, "reportingInstance": w.node,
		"firstTimestamp": at, "lastTimestamp": at, "count": int64(e.n),
	}}
	w.countWrite()
	_, err := w.client.Resource(eventsResource).Namespace(EventNamespace).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("creating event %s (%s): %w", name, e.Reason, err)
	}
	return name, nil
}
