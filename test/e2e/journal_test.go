package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// entry is one structured journal entry of nodeagent: the zap fields are
// journal fields (phase → PHASE), see internal/logging.
type entry struct {
	Time    time.Time
	Message string
	Fields  map[string]string
}

// agentJournal reads nodeagent.service's entries, oldest first.
func (n *node) agentJournal() ([]entry, error) {
	out, err := n.exec("journalctl", "-b", "-u", "nodeagent.service", "-o", "json", "--no-pager")
	if err != nil {
		return nil, err
	}
	return parseJournal(out), nil
}

// unitStart is the time of the unit's first journal entry of this boot
// (systemd's "Starting …"), whichever process logged it: the first start,
// where the unit's *Timestamp properties say the last.
func (n *node) unitStart(unit string) (time.Time, error) {
	out, err := n.exec("sh", "-c", `journalctl -b -u "$1" -o json --no-pager --output-fields=MESSAGE | head -n 1`, "sh", unit)
	if err != nil {
		return time.Time{}, err
	}
	entries := parseJournal(out)
	if len(entries) == 0 {
		return time.Time{}, fmt.Errorf("%s: no journal entry of %s", n.name, unit)
	}
	return entries[0].Time, nil
}

// journalLag bounds how long an entry takes from the agent's send to
// journalctl: journald stores it a moment later, so a check that follows
// an event seen elsewhere (a status, a unit property) polls the journal.
const journalLag = 30 * time.Second

// journalUntil polls the agent's journal until have accepts it and returns
// the entries have saw.
func (n *node) journalUntil(t testing.TB, what string, have func([]entry) error) []entry {
	t.Helper()
	var entries []entry
	poll(t, n.name+": "+what, journalLag, time.Second, func() error {
		var err error
		if entries, err = n.agentJournal(); err != nil {
			return err
		}
		return have(entries)
	})
	return entries
}

// parseJournal decodes `journalctl -o json`; fields journald stores as
// byte arrays (non-UTF-8) are skipped.
func parseJournal(out string) []entry {
	var entries []entry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var raw map[string]any
		if json.Unmarshal(sc.Bytes(), &raw) != nil {
			continue
		}
		e := entry{Fields: map[string]string{}}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				e.Fields[k] = s
			}
		}
		us, _ := strconv.ParseInt(e.Fields["__REALTIME_TIMESTAMP"], 10, 64)
		e.Time = time.UnixMicro(us)
		e.Message = e.Fields["MESSAGE"]
		entries = append(entries, e)
	}
	return entries
}

// msg is the constant message of an entry: the journal core appends the
// fields to MESSAGE so plain journalctl shows them.
func (e entry) msg() string {
	m, _, _ := strings.Cut(e.Message, " ")
	for _, known := range []string{"phase started", "phase done", "phase failed", "manifests applied", "runtime stats", "restart lease claimed", "restart lease released", "join decided", "apply lease acquired", "etcd observed for the stale-member check", "waited for the backups node's key check", "waited for the new workloads' nodes", "creating workloads before their nodes are Ready"} {
		if strings.HasPrefix(e.Message, known) {
			return known
		}
	}
	return m
}

// first returns the first entry at or after since matching the message and
// phase ("" = any), and whether there is one.
func first(entries []entry, since time.Time, message, phase string) (entry, bool) {
	for _, e := range entries {
		if e.Time.Before(since) || e.msg() != message {
			continue
		}
		if phase != "" && e.Fields["PHASE"] != phase {
			continue
		}
		return e, true
	}
	return entry{}, false
}

// all returns every entry at or after since with the message.
func all(entries []entry, since time.Time, message string) []entry {
	var out []entry
	for _, e := range entries {
		if !e.Time.Before(since) && e.msg() == message {
			out = append(out, e)
		}
	}
	return out
}

// createdCount is the created=N of a "manifests applied" summary.
func createdCount(e entry) int {
	for _, part := range strings.Fields(e.Fields["SUMMARY"]) {
		if v, ok := strings.CutPrefix(part, "created="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
