package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"

	"github.com/nodeagent/nodeagent/internal/agent"
)

// summary is the table printed at the end of the run: one row per step and
// per benchmark figure.
type summary struct {
	mu      sync.Mutex
	rows    [][3]string
	running string // the step under way
}

func (s *summary) begin(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = step
}

func (s *summary) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func (s *summary) add(what, result, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, [3]string{what, result, detail})
}

func (s *summary) log(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STEP\tRESULT\tDETAIL")
	for _, r := range s.rows {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	_ = w.Flush()
	t.Logf("summary of the homelab run:\n%s", b.String())
}

// bench prints the figures of the run: the clean join's (measureJoin) and
// the first applier's, start to manifests applied.
func (sc *scenario) bench(t *testing.T) {
	var applier *node
	var applied entry
	for _, n := range sc.h.each() {
		entries, err := n.agentJournal()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := first(entries, sc.started, "manifests applied", ""); ok && (applier == nil || e.Time.Before(applied.Time)) {
			applier, applied = n, e
		}
	}
	if applier == nil {
		t.Fatal("no node logged 'manifests applied'")
	}
	j := sc.cleanJoin
	var shares, k3sParts []string
	for _, n := range j.nodes {
		shares = append(shares, fmt.Sprintf("%s %s of %s", n.name, n.own.Round(time.Millisecond), n.pass.Round(time.Millisecond)))
		k3sParts = append(k3sParts, fmt.Sprintf("%s %s", n.name, n.k3s.Round(time.Millisecond)))
	}
	met := "met"
	if j.maxOwn() > ownShareTarget {
		met = "NOT met"
	}
	figures := [][2]string{
		{"clean join: start → 3 voters + manifests applied", j.total.Round(time.Millisecond).String()},
		{"clean join: nodeagent's own share per node (target ≤ 5s)", strings.Join(shares, ", ") + " — " + met},
		{"clean join: k3s stand-in start-ups", strings.Join(k3sParts, ", ")},
		{"start → " + applier.name + " serving + manifests applied", applied.Time.Sub(sc.started).Round(time.Millisecond).String()},
	}
	for _, f := range figures {
		sc.sum.add("bench: "+f[0], "figure", f[1])
		t.Logf("figure: %s: %s", f[0], f[1])
	}
	benchfig.Report(t, benchfig.Figure{Name: "clean three-server join: start → 3 voters + manifests applied", Value: figures[0][1]})
	benchfig.Report(t, benchfig.Figure{
		Name: "clean join: nodeagent's own share per node", Value: strings.Join(shares, ", "),
		Target: "≤ 5s per node", Baseline: "k3s start-ups " + strings.Join(k3sParts, ", "),
		Met: benchfig.Met(j.maxOwn() <= ownShareTarget),
	})
}

// ownShareTarget is the budget for nodeagent's own work in a join,
// per node.
const ownShareTarget = 5 * time.Second

// joinFigures is what a clean join cost: in all, and per node.
type joinFigures struct {
	total time.Duration // start → the last node's join pass done
	nodes []nodeJoin
}

// nodeJoin is one node's join pass: its length, k3s's start-up in it, and
// nodeagent's own share (the pass minus k3s's start-up and the waits on
// other nodes).
type nodeJoin struct {
	name           string
	pass, k3s, own time.Duration
}

// waitedField is the WAITED of the first entry with message in phase since
// since: what the agent itself counted as a wait on others (the apply's for
// CRDs and chart kinds, which k3s's helm controller installs; the stale
// member check's for the first server's etcd to answer).
func waitedField(entries []entry, since time.Time, message, phase string) time.Duration {
	e, ok := first(entries, since, message, phase)
	if !ok {
		return 0
	}
	d, _ := time.ParseDuration(e.Fields["WAITED"])
	return d
}

// phaseList is "preflight 12ms, disk 3ms, ..." in join order.
func phaseList(phases map[string]entry) string {
	var parts []string
	for _, name := range agent.StepNames() {
		if e, ok := phases[name]; ok {
			parts = append(parts, name+" "+e.Fields["ELAPSED"])
		}
	}
	return strings.Join(parts, ", ")
}

// waitedIn is the time from the phase's first start since since to the
// first entry with message in it: the wait at the start of the phase.
func waitedIn(t *testing.T, n *node, entries []entry, since time.Time, phase, message string) time.Duration {
	started, ok1 := first(entries, since, "phase started", phase)
	waited, ok2 := first(entries, since, message, phase)
	if !ok1 || !ok2 {
		// Counted as nodeagent's own then: the figure errs on its side.
		t.Logf("%s: no 'phase started' and %q in the %s phase in the journal", n.name, message, phase)
		return 0
	}
	return waited.Time.Sub(started.Time)
}

func (j joinFigures) maxOwn() time.Duration {
	var m time.Duration
	for _, n := range j.nodes {
		m = max(m, n.own)
	}
	return m
}

// waitPhases are the phases that wait on others, not nodeagent's work:
// register waits for k3s to register the Node, quorum for the other
// servers' etcd.
var waitPhases = map[string]bool{"register": true, "quorum": true}

// measureJoin reads each agent's first pass since the start from its
// journal (the first "phase done" of each phase: a failed phase logs
// "phase failed", and its retry resumes there). In the k3s phase it leaves
// out the join decision, which waits for the other servers to answer (and,
// on the first server, for their grace), and k3s's start-up as systemd
// recorded it, and the stale-member check's wait for the first server's
// etcd to answer; in the manifests phase the wait for the apply lease,
// which the other servers hold while they apply, the apply's wait for
// the charts' CRDs and kinds, its wait for the backups node to check
// the sealed-secrets keys (the gate of a new sealed-secrets chart), and its
// wait for the nodes the new workloads are placed on (the placement gate).
func (sc *scenario) measureJoin(t *testing.T) joinFigures {
	var j joinFigures
	for _, n := range sc.h.each() {
		var entries []entry
		var phases map[string]entry
		n.journalUntil(t, "every phase of the join done", func(es []entry) error {
			entries, phases = es, map[string]entry{}
			for _, e := range all(es, sc.started, "phase done") {
				if _, seen := phases[e.Fields["PHASE"]]; !seen {
					phases[e.Fields["PHASE"]] = e
				}
			}
			if _, ok := phases["manifests"]; !ok {
				return fmt.Errorf("no 'phase done' of the manifests phase yet")
			}
			return nil
		})
		nj := nodeJoin{name: n.name, k3s: k3sFirstStartup(n)}
		var end time.Time
		for name, e := range phases {
			d, err := time.ParseDuration(e.Fields["ELAPSED"])
			if err != nil {
				t.Fatalf("%s: phase %s done with ELAPSED %q: %v", n.name, name, e.Fields["ELAPSED"], err)
			}
			nj.pass += d
			if !waitPhases[name] {
				nj.own += d
			}
			if e.Time.After(end) {
				end = e.Time
			}
		}
		decide := waitedIn(t, n, entries, sc.started, "k3s", "join decided")
		lease := waitedIn(t, n, entries, sc.started, "manifests", "apply lease acquired")
		charts := waitedField(entries, sc.started, "manifests applied", "manifests")
		keys := waitedField(entries, sc.started, "waited for the backups node's key check", "manifests")
		etcd := waitedField(entries, sc.started, "etcd observed for the stale-member check", "k3s")
		nodes := waitedField(entries, sc.started, "waited for the new workloads' nodes", "manifests")
		nj.own -= decide + etcd + nj.k3s + lease + charts + keys + nodes
		t.Logf("%s join pass: %s; own %s = phases %s - join decision %s - first server's etcd answering %s - k3s start-up %s - apply lease wait %s - wait for CRDs and chart kinds %s - wait for pi5's sealed-secrets key check %s - wait for the new workloads' nodes %s",
			n.name, phaseList(phases), nj.own.Round(time.Millisecond), nj.pass.Round(time.Millisecond),
			decide.Round(time.Millisecond), etcd.Round(time.Millisecond), nj.k3s.Round(time.Millisecond),
			lease.Round(time.Millisecond), charts.Round(time.Millisecond), keys.Round(time.Millisecond), nodes.Round(time.Millisecond))
		nj.own = max(nj.own, 0)
		j.total = max(j.total, end.Sub(sc.started))
		j.nodes = append(j.nodes, nj)
	}
	return j
}

// k3sStartup is how long k3s.service took from exec to READY=1, as systemd
// recorded it (the last start).
func k3sStartup(n *node) time.Duration {
	d := n.monotonicProp("k3s.service", "ActiveEnterTimestampMonotonic") -
		n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic")
	return max(d, 0)
}

// k3sFirstStartup is how long k3s.service took from its first start of the
// boot to READY=1: k3s's own restarts (a join that failed once) are its
// start-up too. Both ends are CLOCK_MONOTONIC, the journal's and systemd's.
func k3sFirstStartup(n *node) time.Duration {
	out, err := n.exec("sh", "-c", `journalctl -b -u k3s.service -o json --no-pager --output-fields=MESSAGE | head -n 1`)
	entries := parseJournal(out)
	if err != nil || len(entries) == 0 {
		return k3sStartup(n)
	}
	us, err := strconv.ParseInt(entries[0].Fields["__MONOTONIC_TIMESTAMP"], 10, 64)
	if err != nil {
		return k3sStartup(n)
	}
	return max(n.monotonicProp("k3s.service", "ActiveEnterTimestampMonotonic")-time.Duration(us)*time.Microsecond, 0)
}

// benchRebuild records a rebuilt server's figures: from nodeagent's start
// to the first poll that saw its new member a healthy voter, and the
// agent's own share, its start until k3s.service's first start (k3s's own
// start-up, join and promotion excluded).
func (sc *scenario) benchRebuild(t *testing.T, n *node, r *rebuilt, faults []joinFault) {
	var err error
	if r.agentStart, err = n.unitStart("nodeagent.service"); err != nil {
		t.Fatal(err)
	}
	if r.k3sStart, err = n.unitStart("k3s.service"); err != nil {
		t.Fatal(err)
	}
	if !r.agentStart.Before(r.k3sStart) || !r.k3sStart.Before(r.voterAt) {
		t.Fatalf("%s: agent start %s, k3s start %s, healthy voter %s: want them in this order",
			r.name, r.agentStart.Format(time.StampMicro), r.k3sStart.Format(time.StampMicro), r.voterAt.Format(time.StampMicro))
	}
	total, share := r.voterAt.Sub(r.agentStart), r.k3sStart.Sub(r.agentStart)
	what, member := r.name+" replaced", "new member "+r.newMember
	if r.oldMember != "" {
		what, member = r.name+" rebuilt", fmt.Sprintf("member %s replaces %s", r.newMember, r.oldMember)
	}
	for _, f := range faults {
		what += " (" + f.name + ")"
	}
	figures := [][2]string{
		{what + ": agent start → healthy voter", fmt.Sprintf("%s (%s)", total.Round(time.Millisecond), member)},
		{what + ": agent share (start → k3s started)", fmt.Sprintf("%s (%.0f%%)",
			share.Round(time.Millisecond), 100*share.Seconds()/total.Seconds())},
	}
	for _, f := range figures {
		sc.sum.add("bench: "+f[0], "figure", f[1])
		t.Logf("figure: %s: %s", f[0], f[1])
		benchfig.Report(t, benchfig.Figure{Name: f[0], Value: f[1]})
	}
}
