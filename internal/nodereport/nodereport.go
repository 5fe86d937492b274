// Package nodereport writes what nodeagent has to say about its own node
// where `kubectl describe node` shows it: the NodeagentReady condition in
// the Node's status and core/v1 Events about the Node.
//
// Writing never holds up a reconcile: Set and Record only note what is to
// be written and wake one goroutine (Run) that writes with a short timeout.
// The condition is written only when its status, reason or message change;
// Events are aggregated and rate-limited (events.go). It uses client-go's
// dynamic client, so the daemon links no API types (test/deps).
package nodereport

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/internal/host"
)

// ErrNoCluster is what a Connect returns while this node has no kubeconfig
// (an agent node, or a server before k3s runs): nothing is written and
// nothing is logged.
var ErrNoCluster = errors.New("no kubeconfig on this node")

// Connect builds the API client; it is called until it succeeds.
type Connect func() (dynamic.Interface, error)

// Condition is the NodeagentReady condition nodeagent wants on its Node.
type Condition struct {
	OK      bool
	Reason  string
	Message string
}

// writeTimeout bounds each API call: a slow apiserver costs a missed
// write, never a stuck writer.
const writeTimeout = 10 * time.Second

// errorLogEvery keeps an apiserver that is down from filling the journal.
const errorLogEvery = time.Minute

// Writer keeps the condition and the Events of one Node.
type Writer struct {
	connect Connect
	node    string
	clock   host.Clock
	log     *zap.Logger
	wake    chan struct{}

	mu      sync.Mutex
	want    *Condition // nil until something is known
	limiter *limiter
	pending []pendingEvent

	// The writer goroutine alone uses these.
	client     dynamic.Interface
	uid        string
	written    *writtenCondition
	events     *eventCache
	lastErrLog time.Time
	// Writes counts the API writes done (tests and debugging).
	writes int
}

// New returns a Writer for the Node called node; Run does the writing.
func New(connect Connect, node string, clock host.Clock, log *zap.Logger) *Writer {
	return &Writer{connect: connect, node: node, clock: clock, wake: make(chan struct{}, 1),
		log: log.With(zap.String("component", "nodereport")), limiter: newLimiter(clock), events: newEventCache()}
}

// Set asks for the condition to be c. It does not block.
func (w *Writer) Set(c Condition) {
	c.Message = shorten(c.Message, maxMessage)
	w.mu.Lock()
	w.want = &c
	w.mu.Unlock()
	w.poke()
}

func (w *Writer) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run writes what Set and Record asked for until ctx ends.
func (w *Writer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
			w.flush(ctx)
		}
	}
}

// flush writes the wanted condition and the pending Events, once a client
// and the Node are there.
func (w *Writer) flush(ctx context.Context) {
	if !w.ready(ctx) {
		return
	}
	w.mu.Lock()
	want, events := w.want, w.pending
	w.pending = nil
	w.mu.Unlock()
	if want != nil {
		w.writeCondition(ctx, *want)
	}
	for _, e := range events {
		w.writeEvent(ctx, e)
	}
}

// ready connects and reads the Node once: its UID for the Events, and the
// condition already there so that an unchanged one is not written again
// after a restart of the daemon.
func (w *Writer) ready(ctx context.Context) bool {
	if w.written != nil {
		return true
	}
	if w.client == nil {
		c, err := w.connect()
		if err != nil {
			w.dropPending()
			if !errors.Is(err, ErrNoCluster) {
				w.logError("cannot connect to the cluster", err)
			}
			return false
		}
		w.client = c
	}
	if err := w.readNode(ctx); err != nil {
		w.dropPending()
		w.logError("cannot read the node", err)
		return false
	}
	return true
}

// dropPending forgets Events that cannot be written: they tell of what
// happened, and a stale one written much later would mislead.
func (w *Writer) dropPending() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.pending {
		w.log.Debug("event dropped: no cluster to write it to", zap.String("reason", e.Reason), zap.String("message", e.Message))
	}
	w.pending = nil
}

// logError logs at most once per errorLogEvery.
func (w *Writer) logError(msg string, err error) {
	now := w.clock.Now()
	if !w.lastErrLog.IsZero() && now.Sub(w.lastErrLog) < errorLogEvery {
		w.log.Debug(msg, zap.Error(err))
		return
	}
	w.lastErrLog = now
	w.log.Warn(msg, zap.Error(err))
}

// Writes is how many API writes the Writer has made (counted as each
// starts, so a write the apiserver shows is counted already).
func (w *Writer) Writes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

func (w *Writer) countWrite() {
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
}

// maxMessage bounds messages: kubectl describe shows them on one line.
const maxMessage = 200

// shorten makes s one line of at most max runes, keeping its start and end
// (the innermost cause of an error is at its end).
func shorten(s string, max int) string {
	s = joinFields(s)
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	head := max / 3
	return string(r[:head]) + " … " + string(r[len(r)-(max-head-3):])
}
