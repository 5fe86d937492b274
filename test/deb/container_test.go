package deb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// node is the container with the helpers the package test needs.
type node struct {
	*nspawn.Container
	t *testing.T
}

// sh runs a shell command in the container and fails the test on error.
func (n node) sh(ctx context.Context, script string) string {
	n.t.Helper()
	out, err := n.Exec(ctx, "sh", "-c", script)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// unitProps reads properties of nodeagent.service with systemctl show.
func (n node) unitProps(ctx context.Context, props ...string) (map[string]string, error) {
	out, err := n.Exec(ctx, "systemctl", "show", "nodeagent.service", "-p", strings.Join(props, ","))
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(props))
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// waitUnit polls the unit's properties until ok accepts them, and fails the
// test with the last properties seen after timeout.
func (n node) waitUnit(ctx context.Context, what string, timeout time.Duration, ok func(map[string]string) bool, props ...string) map[string]string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last map[string]string
	var lastErr error
	for {
		if m, err := n.unitProps(ctx, props...); err != nil {
			lastErr = err
		} else if last = m; ok(m) {
			return m
		}
		select {
		case <-ctx.Done():
			n.t.Fatalf("waiting %s for %s: last properties %v, last error %v", timeout, what, last, lastErr)
		case <-tick.C:
		}
	}
}

// excluded are the trees the file list leaves out: API file systems, the
// volatile ones, and the journal and caches that change on their own.
var excluded = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/log/journal", "/var/cache"}

// fileList is every path on the container's root file system, sorted, with
// its type and mode so a changed permission shows up too.
func (n node) fileList(ctx context.Context) map[string]string {
	n.t.Helper()
	var prune []string
	for _, p := range excluded {
		prune = append(prune, "-path "+p)
	}
	out := n.sh(ctx, "find / -xdev \\( "+strings.Join(prune, " -o ")+" \\) -prune -o -printf '%p\\t%y %m\\n'")
	files := make(map[string]string)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if p, attr, ok := strings.Cut(l, "\t"); ok {
			files[p] = attr
		}
	}
	return files
}

// listDiff returns the paths only in after, only in before, and in both
// with other attributes, each sorted.
func listDiff(before, after map[string]string) (added, removed, changed []string) {
	for p, a := range after {
		switch b, ok := before[p]; {
		case !ok:
			added = append(added, p+" "+a)
		case b != a:
			changed = append(changed, fmt.Sprintf("%s %s -> %s", p, b, a))
		}
	}
	for p, b := range before {
		if _, ok := after[p]; !ok {
			removed = append(removed, p+" "+b)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	return added, removed, changed
}
