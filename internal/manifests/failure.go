package manifests

import (
	"fmt"
	"slices"
)

// fail replays the loss of node down: DaemonSet pods simply go, pods whose
// HARD labels only down carries are lost, pods with a local-path volume on
// down are held by it, and the rest are rescheduled onto the remaining
// nodes in placement order.
func (r *Report) fail(down string, nodes []Node, placed []Placement) Failure {
	f := Failure{Node: down}
	var rest []Node
	servers, left := 0, 0
	for _, n := range nodes {
		if n.Role != "agent" {
			servers++
		}
		if n.Name == down {
			continue
		}
		rest = append(rest, n)
		if n.Role != "agent" {
			left++
		}
	}
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
			if len(p.Pod.Require) == 0 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("if %s fails, %s cannot move although its rule is SOFT: its local-path volume is on %s", down, p.Pod.Name(), down))
			}
		default:
			moving = append(moving, p.Pod)
		}
	}
	for _, p := range placementOrder(moving, rest) {
		node, ok := pl.best(p)
		if !ok {
			f.Unplaced = append(f.Unplaced, p.Name())
			r.Warnings = append(r.Warnings, unplacedMessage(p, rest, "if "+down+" fails, "))
			continue
		}
		pl.assign(p, node)
		move := Placement{Pod: p, Node: node}
		f.Moved = append(f.Moved, move)
		kept = append(kept, move)
	}
	f.Nodes = totals(rest, kept)
	for _, t := range f.Nodes {
		if !receivedPods(t, f.Moved) {
			continue // its steady-state warning already covers it
		}
		if w := overcommit(t, "if "+down+" fails, "); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	if !f.Quorum {
		r.Warnings = append(r.Warnings, fmt.Sprintf("if %s fails, etcd loses quorum: %d of %d servers remain", down, left, servers))
	}
	return f
}

func receivedPods(t NodeTotal, moved []Placement) bool {
	return slices.ContainsFunc(moved, func(p Placement) bool { return p.Node == t.Node.Name })
}
