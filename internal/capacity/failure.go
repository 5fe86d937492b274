package capacity

import (
	"fmt"
	"slices"

	"github.com/nodeagent/nodeagent/internal/config"
)

// fail replays the loss of node down: DaemonSet pods simply go, pods whose
// HARD labels only down carries are lost, pods with a local-path volume on
// down are held by it (a replicated workload keeps serving from a replica
// elsewhere: no warning then), and the rest are rescheduled onto the
// remaining nodes in placement order.
func (r *Report) fail(down string, nodes []Node, placed []Placement) Failure {
	f := Failure{Node: down}
	var rest []Node
	for _, n := range nodes {
		if n.Name != down {
			rest = append(rest, n)
		}
	}
	servers, left := countServers(nodes), countServers(rest)
	f.Quorum = left*2 > servers
	pl := newPlacer(rest)
	var kept []Placement
	var moving []Pod
	for _, p := range placed {
		switch {
		case p.Node != down:
			pl.assign(p.Pod, p.Node)
			kept = append(kept, p)
		case p.Pod.DaemonSet:
		case !slices.ContainsFunc(rest, func(n Node) bool { return eligible(p.Pod, n) }):
			f.Lost = append(f.Lost, p.Pod.Name())
		case p.Pod.Pinned:
			f.Pinned = append(f.Pinned, p.Pod.Name())
			if other, ok := survivor(p.Pod, down, placed); ok {
				// A StatefulSet replica waits for its volume's node; the
				// service goes on from the other replica's node.
				f.ServedBy = append(f.ServedBy, other)
				continue
			}
			if len(p.Pod.Require) == 0 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("if %s fails, %s cannot move although its rule is SOFT: its local-path volume is on %s", down, p.Pod.Name(), down))
			}
		default:
			moving = append(moving, p.Pod)
		}
	}
	f.Moved, f.Unplaced = r.move(down, pl, moving, rest)
	f.Nodes = totals(rest, append(kept, f.Moved...))
	r.checkAfterFailure(f, servers, left)
	return f
}

// move reschedules the pods of a failed node onto the remaining ones.
func (r *Report) move(down string, pl *placer, moving []Pod, rest []Node) (moved []Placement, unplaced []string) {
	for _, p := range placementOrder(moving, rest) {
		node, ok := pl.best(p)
		if !ok {
			unplaced = append(unplaced, p.Name())
			r.Warnings = append(r.Warnings, unplacedMessage(p, rest, "if "+down+" fails, "))
			continue
		}
		pl.assign(p, node)
		moved = append(moved, Placement{Pod: p, Node: node})
	}
	return moved, unplaced
}

func (r *Report) checkAfterFailure(f Failure, servers, left int) {
	for _, t := range f.Nodes {
		if !receivedPods(t, f.Moved) {
			continue // its steady-state warning already covers it
		}
		if w := overcommit(t, "if "+f.Node+" fails, "); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	if !f.Quorum {
		r.Warnings = append(r.Warnings, fmt.Sprintf("if %s fails, etcd loses quorum: %d of %d servers remain", f.Node, left, servers))
	}
}

func countServers(nodes []Node) int {
	n := 0
	for _, node := range nodes {
		if node.Role != config.RoleAgent {
			n++
		}
	}
	return n
}

func receivedPods(t NodeTotal, moved []Placement) bool {
	return slices.ContainsFunc(moved, func(p Placement) bool { return p.Node == t.Node.Name })
}

// survivor names a replica of p's workload that runs on a node other than
// down, as "pod@node".
func survivor(p Pod, down string, placed []Placement) (string, bool) {
	for _, o := range placed {
		if o.Pod.Workload == p.Workload && o.Node != down {
			return o.Pod.Name() + "@" + o.Node, true
		}
	}
	return "", false
}
