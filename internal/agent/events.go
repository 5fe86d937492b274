package agent

import "sync"

// work is a set of reconciles the daemon's worker owes; events coalesce
// into it, so a burst of events costs one pass.
type work uint8

const (
	workFull    work = 1 << iota // every phase of join (idempotent)
	workLabels                   // USB or disk state changed: labels only
	workDisks                    // a block device appeared or went away
	workConfig                   // the cluster file or the overlay changed
	workRetry                    // the retry of a failed full pass, from its failed step
	workBackups                  // k3s finished an etcd snapshot: copy it to the HDD
)

// queue hands work from event sources to the worker.
type queue struct {
	mu      sync.Mutex
	pending work
	signal  chan struct{}
	// interrupt stops the reconcile in progress when the configuration
	// changes: a wait (clock, predecessor, unit) must not hold a reload
	// back for minutes.
	interrupt func()
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

// add records w and wakes the worker if it is idle.
func (q *queue) add(w work) {
	q.mu.Lock()
	q.pending |= w
	if w&workConfig != 0 && q.interrupt != nil {
		q.interrupt()
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take returns and clears the pending work.
func (q *queue) take() work {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.pending
	q.pending = 0
	return w
}

// setInterrupt sets what a configuration change calls while a reconcile
// runs; nil when none does.
func (q *queue) setInterrupt(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.interrupt = f
}
