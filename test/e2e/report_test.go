package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// summary is the table printed at the end of the run: one row per step and
// per benchmark figure.
type summary struct {
	mu   sync.Mutex
	rows [][3]string
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

// bench prints the figures of the run. The join of all three includes the
// deliberate 2380 block, the SIGKILL of pi5's agent and the agents' retry
// backoff, so the clean figure is the first applier's: start to manifests
// applied, and the agent's own share of it (minus the stand-in's start-up,
// systemd's ExecMainStart → ActiveEnter of k3s.service). Whichever server
// takes the apply lease first applies (checkGateOrder saw one). The idle
// step measures the agents' memory and CPU.
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
	firstNode := applied.Time.Sub(sc.started)
	k3sUp := k3sStartup(applier)
	var k3sParts []string
	for _, n := range sc.h.each() {
		k3sParts = append(k3sParts, fmt.Sprintf("%s %s", n.name, k3sStartup(n).Round(time.Millisecond)))
	}
	figures := [][2]string{
		{"start → " + applier.name + " serving + manifests applied", firstNode.Round(time.Millisecond).String()},
		{applier.name + " agent share (minus k3s start-up)", fmt.Sprintf("%s (%.0f%%)", (firstNode - k3sUp).Round(time.Millisecond), 100*(firstNode-k3sUp).Seconds()/firstNode.Seconds())},
		{"start → 3 joined (incl. block, kill, backoff)", sc.converged.Sub(sc.started).Round(time.Millisecond).String()},
		{"block removed → 3 joined", sc.converged.Sub(sc.unblocked).Round(time.Millisecond).String()},
		{"k3s stand-in start-ups", strings.Join(k3sParts, ", ")},
	}
	for _, f := range figures {
		sc.sum.add("bench: "+f[0], "figure", f[1])
		t.Logf("figure: %s: %s", f[0], f[1])
	}
}

// k3sStartup is how long k3s.service took from exec to READY=1, as systemd
// recorded it (the last start).
func k3sStartup(n *node) time.Duration {
	d := n.monotonicProp("k3s.service", "ActiveEnterTimestampMonotonic") -
		n.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic")
	return max(d, 0)
}

// benchRebuild records a rebuilt server's figures: from nodeagent's start
// to the first poll that saw its new member a healthy voter, and the
// agent's own share, its start until k3s.service's first start (k3s's own
// start-up, join and promotion excluded).
func (sc *scenario) benchRebuild(t *testing.T, n *node, r *rebuilt) {
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
	figures := [][2]string{
		{what + ": agent start → healthy voter", fmt.Sprintf("%s (%s)", total.Round(time.Millisecond), member)},
		{what + ": agent share (start → k3s started)", fmt.Sprintf("%s (%.0f%%)",
			share.Round(time.Millisecond), 100*share.Seconds()/total.Seconds())},
	}
	for _, f := range figures {
		sc.sum.add("bench: "+f[0], "figure", f[1])
		t.Logf("figure: %s: %s", f[0], f[1])
	}
}
