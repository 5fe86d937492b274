package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/disk"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// Daemon is the systemd notification side of `nodeagent run`.
type Daemon interface {
	Ready() error
	Status(text string) error
	Watchdog() error
	Stopping() error
}

// RunOptions tune the daemon loop.
type RunOptions struct {
	// ConfigPath is the cluster file watched for changes ("" = built-in).
	ConfigPath string
	// Watchdog is how often to ping systemd's watchdog (0 = off).
	Watchdog time.Duration
	// Resync is the slow full reconcile that backs up the events.
	Resync time.Duration
	// StallLimit is how long a reconcile may go without progress before the
	// watchdog pings stop and systemd restarts the daemon.
	StallLimit time.Duration
}

// Run is the daemon: it joins the node if it has not joined, then keeps it in
// step on events (USB hotplug, disks, cluster file, addresses) and a slow
// resync, until ctx ends.
func (a *Agent) Run(ctx context.Context, d Daemon, opts RunOptions) error {
	if opts.Resync <= 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.StallLimit <= 0 {
		opts.StallLimit = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newQueue()
	var beat atomic.Int64 // unix nanos of the worker's last sign of life; 0 = idle
	mark := beatMark(&beat, a.Clock)
	a.Reporter = beatingReporter{newLiveReporter(a.Reporter, a.Root, a.Clock), mark}
	a.instrument(NewMetrics())
	a.sweepLeftovers()

	var wg sync.WaitGroup
	a.startNodeReport(ctx, &wg)
	a.startWatchers(ctx, &wg, q, opts)
	if _, err := serveMetrics(ctx, &wg, a.cluster().Metrics.Address(), a.metrics, a.log); err != nil {
		a.log.Error("serving no metrics", zap.Error(err))
	}
	q.add(workFull)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Bytes of a download and polls of a wait mark progress too
		// (host.Progress), not only phases and status lines.
		a.worker(host.WithProgress(ctx, mark), q, &beat)
	}()
	if err := d.Ready(); err != nil {
		a.log.Warn("cannot notify systemd", zap.Error(err))
	}
	a.supervise(ctx, d, q, &beat, opts)
	_ = d.Stopping()
	cancel()
	wg.Wait()
	return nil
}

// supervise pings the watchdog while the worker is idle or making progress,
// and queues the periodic resync.
func (a *Agent) supervise(ctx context.Context, d Daemon, q *queue, beat *atomic.Int64, opts RunOptions) {
	resync := a.Clock.NewTicker(opts.Resync)
	defer resync.Stop()
	var wd <-chan time.Time
	if opts.Watchdog > 0 {
		t := a.Clock.NewTicker(opts.Watchdog)
		defer t.Stop()
		wd = t.C()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C():
			q.add(workFull)
		case <-wd:
			last := beat.Load()
			if last == 0 || a.Clock.Now().Sub(time.Unix(0, last)) < opts.StallLimit {
				_ = d.Watchdog()
			} else {
				a.log.Error("reconcile stalled: withholding the watchdog ping", zap.Time("lastProgress", time.Unix(0, last)))
			}
		}
	}
}

// sweepLeftovers removes what downloads killed mid-way left beside the k3s
// binary and images, before the worker can start a new one.
func (a *Agent) sweepLeftovers() {
	removed, err := release.SweepLeftovers(a.Root)
	for _, p := range removed {
		a.log.Warn("removed the leftover of an unfinished download", zap.String("path", p))
	}
	if err != nil {
		a.log.Error("cannot remove download leftovers", zap.Error(err))
	}
}

// beatMark returns the worker's sign of life: it moves beat to now while a
// reconcile runs and leaves an idle (0) beat alone. Marks come from the
// worker and from the goroutines of its steps, hence the compare-and-swap.
func beatMark(beat *atomic.Int64, clock host.Clock) func() {
	return func() {
		for {
			last := beat.Load()
			if last == 0 || beat.CompareAndSwap(last, clock.Now().UnixNano()) {
				return
			}
		}
	}
}

// upgradeHeldRecheck is how soon an agent whose k3s upgrade waits for the
// servers runs its next full pass (whose k3s step polls them for up to
// two minutes).
var upgradeHeldRecheck = 2 * time.Minute

// worker runs the queued reconciles one at a time, with a backoff retry of a
// failed full reconcile.
func (a *Agent) worker(ctx context.Context, q *queue, beat *atomic.Int64) {
	backoff := 15 * time.Second
	retry := a.Clock.NewTimer(time.Hour)
	retry.Stop()
	var owed fullPass
	failures := 0 // full passes failed in a row
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		case <-retry.C():
			q.add(workRetry)
			continue
		}
		w := q.take()
		beat.Store(a.Clock.Now().UnixNano())
		err := a.reconcileInterruptible(ctx, q, w)
		beat.Store(0)
		if errors.Is(err, errReloaded) && ctx.Err() == nil {
			// The queued reload runs next, at once.
			a.log.Info("the cluster file changed: stopped the pass to reload", zap.Error(err))
			a.Reporter.Status("the cluster file changed: reloading")
			continue
		}
		wasOwed := owed.owed
		if owed.settle(w, err) {
			backoff, failures = 15*time.Second, 0
			a.report.passEnded(nil)
			state := "in step"
			if a.upgradeHeld != "" {
				// Not a failure: the servers are still upgrading, or
				// their rollout stopped. Asked again soon, not at the resync.
				state = a.upgradeHeld
				a.resumeAt = "" // the whole pass again, the k3s step included
				retry.Reset(upgradeHeldRecheck)
			}
			a.Reporter.Status(joinStatus(state, a.configProblem))
			continue
		}
		if err == nil {
			continue // a disk or labels pass went well; the full retry is still due
		}
		if errors.Is(err, context.Canceled) {
			return
		}
		if wasOwed && w&(workFull|workConfig|workRetry) == 0 {
			// A disk or labels pass that fails while a failed full pass is
			// due most likely fails because of it (no kubeconfig before k3s
			// runs): STATUS keeps the real cause, the retry stays as set.
			a.log.Warn("pass failed while the full retry is due", zap.Error(err))
			continue
		}
		a.resumeAt = failedPhase(err) // the retry starts there
		if errors.Is(err, ErrRebooting) {
			// systemd stops this daemon on the way down; the retry only
			// notices a reboot that never came (verdictPending says so).
			a.log.Info("waiting for the reboot", zap.Error(err))
			a.Reporter.Status(err.Error())
			retry.Reset(backoff)
			continue
		}
		failures++
		a.report.passEnded(err)
		a.log.Error("reconcile failed: retrying", zap.Duration("retryIn", backoff), zap.Int("failures", failures), zap.Error(err))
		a.Reporter.Status(joinStatus(failureStatus(err, failures, a.Clock.Now().Add(backoff)), a.configProblem))
		retry.Reset(backoff)
		backoff = min(backoff*2, a.maxBackoff(failures))
	}
}

// fullPass tracks whether a failed full reconcile is still owed. Only a full
// pass that succeeds settles it: a disk or labels pass that succeeds in the
// meantime (a block event right after the failure) must not say "in step"
// while the retry of the failed step is pending.
type fullPass struct{ owed bool }

// settle records the outcome of a pass of work w and reports whether the
// node is in step now.
func (f *fullPass) settle(w work, err error) bool {
	switch {
	case err != nil:
		f.owed = true // every failure is retried as a full pass
	case w&(workFull|workConfig|workRetry) != 0:
		f.owed = false
	}
	return !f.owed
}

// errReloaded ends a reconcile whose configuration changed under it. It
// is a cancellation, so every wait ends with it, and the messages say why.
var errReloaded = fmt.Errorf("the cluster file changed: %w", context.Canceled)

// reconcileInterruptible does the work, ending it early when the
// configuration changes meanwhile.
func (a *Agent) reconcileInterruptible(ctx context.Context, q *queue, w work) error {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q.setInterrupt(func() { cancel(errReloaded) })
	defer q.setInterrupt(nil)
	err := a.reconcileLocked(rctx, w)
	if err != nil && errors.Is(context.Cause(rctx), errReloaded) {
		return fmt.Errorf("%w: %v", errReloaded, err)
	}
	return err
}

// reconcileLocked does the work once no `nodeagent join` by hand is at it.
func (a *Agent) reconcileLocked(ctx context.Context, w work) error {
	lock, err := a.lockWaiting(ctx, "nodeagent.service")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	return a.reconcile(ctx, w)
}

// reconcile does the queued work; a full pass covers all the rest.
func (a *Agent) reconcile(ctx context.Context, w work) error {
	if err := checkNotLeft(a.Root); err != nil {
		return err // no pass at all: a disk or label pass would touch a node that left
	}
	if w&workConfig != 0 {
		a.reloadConfig()
		w |= workFull
	}
	// Every pass ends with the snapshot copies: a disk that came back may
	// hold none of those taken while it was away.
	defer a.syncEtcdBackups()
	if w&workFull != 0 {
		return a.join(ctx, "")
	}
	if w&workRetry != 0 {
		return a.join(ctx, a.resumeAt)
	}
	if w&workDisks != 0 {
		for _, d := range a.Node.Disks {
			res, err := a.disks.Ensure(ctx, d)
			a.report.diskEnsured(d.MountPoint, res, err)
			if err != nil && !disk.IsNotFound(err) {
				return err
			}
		}
	}
	if w == workBackups {
		return nil // the deferred copy is all there is to do
	}
	return a.reconcileHotplugLabels(ctx)
}

// maxBackoff keeps retries frequent while the node is joining (what it waits
// for, a peer or a firewall fix, usually comes within seconds), backs off
// to minutes when a join keeps failing (a download that cannot succeed
// should not hammer the release server every 30 s for days), and further
// once the node has joined.
func (a *Agent) maxBackoff(failures int) time.Duration {
	if st, err := LoadState(a.Root); err == nil && st.Joined {
		return 5 * time.Minute
	}
	if failures > joinFastRetries {
		return 2 * time.Minute
	}
	return 30 * time.Second
}

// joinFastRetries is how many failed passes of a join are retried within
// 30 s (about five minutes of them) before the retries back off further.
const joinFastRetries = 10

// joinStatus appends a standing problem (a refused edit) to a status line.
func joinStatus(status, problem string) string {
	if problem == "" {
		return status
	}
	return status + "; " + problem
}

// maxCause bounds the cause in STATUS, which systemctl status shows on one
// line; the journal has the whole error.
const maxCause = 200

// failureStatus is the one line STATUS shows for a failed pass: the phase,
// its cause (shortened in the middle, where the wrapping context is, so the
// innermost cause stays), how often in a row, and when the retry comes.
func failureStatus(err error, failures int, retryAt time.Time) string {
	phase, cause := "reconcile", err.Error()
	var pe *PhaseError
	if errors.As(err, &pe) {
		phase, cause = pe.Phase, pe.Err.Error()
	}
	times := ""
	if failures > 1 {
		times = fmt.Sprintf(" (%d× in a row)", failures)
	}
	return fmt.Sprintf("%s failed%s: %s; retry at %s", phase, times, shorten(cause, maxCause), retryAt.Format("15:04:05"))
}

// shorten cuts s to at most max runes, keeping its start and its end.
func shorten(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ") // one line
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	head := max / 3
	return string(r[:head]) + " … " + string(r[len(r)-(max-head-3):])
}

// failedPhase is the phase a failed pass stopped at, or "" when it did not
// stop at one.
func failedPhase(err error) string {
	var pe *PhaseError
	if errors.As(err, &pe) {
		return pe.Phase
	}
	return ""
}
