package capacity

import (
	"slices"
	"sort"
)

// Placement is where a pod lands.
type Placement struct {
	Pod  Pod
	Node string
}

// Preferred reports whether the pod landed on one of its SOFT nodes (true
// when it has none).
func (p Placement) Preferred() bool {
	return len(p.Pod.Prefer) == 0 || slices.Contains(p.Pod.Prefer, p.Node)
}

// placer simulates the scheduler's decisions: filter by HARD labels, taints
// and room (requests against allocatable, as kube-scheduler does), then
// score by replica spread, SOFT preference order and free memory.
type placer struct {
	nodes []Node
	used  map[string]Usage
	count map[string]map[string]int // node -> workload -> pods
}

func newPlacer(nodes []Node) *placer {
	pl := &placer{nodes: nodes, used: map[string]Usage{}, count: map[string]map[string]int{}}
	for _, n := range nodes {
		pl.count[n.Name] = map[string]int{}
	}
	return pl
}

func (pl *placer) assign(p Pod, node string) {
	pl.used[node] = pl.used[node].Add(p.Requests)
	pl.count[node][p.Workload]++
}

func (pl *placer) fits(p Pod, n Node) bool {
	return eligible(p, n) && pl.used[n.Name].Add(p.Requests).Fits(n.Capacity)
}

// best returns the node the scheduler would pick for p, if any fits.
func (pl *placer) best(p Pod) (string, bool) {
	var cands []Node
	for _, n := range pl.nodes {
		if pl.fits(p, n) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	// Any SOFT node beats the others; among SOFT nodes the spread of
	// replicas comes before the order of preference. This approximates the
	// scheduler's weighted scores for the rendered weights (100, 90, …
	// node affinity; 100 pod anti-affinity) and keeps a failed Pi 4's
	// replicas on the other Pi 4, as the architecture expects.
	rank := func(n Node) (tier, spread, pref int, free int64) {
		pref = slices.Index(p.Prefer, n.Name)
		if pref < 0 {
			tier, pref = 1, len(p.Prefer)
		}
		if p.Spread {
			spread = pl.count[n.Name][p.Workload]
		}
		return tier, spread, pref, n.Capacity.Memory - pl.used[n.Name].Memory
	}
	sort.SliceStable(cands, func(i, j int) bool {
		ti, si, pi, fi := rank(cands[i])
		tj, sj, pj, fj := rank(cands[j])
		if ti != tj {
			return ti < tj
		}
		if si != sj {
			return si < sj
		}
		if pi != pj {
			return pi < pj
		}
		if fi != fj {
			return fi > fj
		}
		return cands[i].Name < cands[j].Name
	})
	return cands[0].Name, true
}

// placementOrder sorts pods like first-fit-decreasing: the most constrained
// (fewest eligible nodes) first, then the largest, then by name, so the
// result does not depend on map or render order.
func placementOrder(pods []Pod, nodes []Node) []Pod {
	out := slices.Clone(pods)
	eligibleCount := func(p Pod) int {
		n := 0
		for _, node := range nodes {
			if eligible(p, node) {
				n++
			}
		}
		return n
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ea, eb := eligibleCount(a), eligibleCount(b); ea != eb {
			return ea < eb
		}
		if a.Requests.Memory != b.Requests.Memory {
			return a.Requests.Memory > b.Requests.Memory
		}
		if a.Requests.CPU != b.Requests.CPU {
			return a.Requests.CPU > b.Requests.CPU
		}
		if a.Workload != b.Workload {
			return a.Workload < b.Workload
		}
		return a.Replica < b.Replica
	})
	return out
}

// schedule places DaemonSet pods on every eligible node, then the others.
// It returns what was placed and what found no node.
func (pl *placer) schedule(pods []Pod) (placed []Placement, unplaced []Pod) {
	for _, p := range pods {
		if !p.DaemonSet {
			continue
		}
		for _, n := range pl.nodes {
			if !eligible(p, n) {
				continue
			}
			if !pl.fits(p, n) {
				unplaced = append(unplaced, p)
				continue
			}
			pl.assign(p, n.Name)
			placed = append(placed, Placement{Pod: p, Node: n.Name})
		}
	}
	var rest []Pod
	for _, p := range pods {
		if !p.DaemonSet {
			rest = append(rest, p)
		}
	}
	for _, p := range placementOrder(rest, pl.nodes) {
		node, ok := pl.best(p)
		if !ok {
			unplaced = append(unplaced, p)
			continue
		}
		pl.assign(p, node)
		placed = append(placed, Placement{Pod: p, Node: node})
	}
	return placed, unplaced
}
