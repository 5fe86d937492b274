package capacity

import (
	"fmt"
	"slices"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// Options tunes the capacity analysis.
type Options struct {
	// ServerOverhead and AgentOverhead are what k3s uses per role; zero
	// takes the defaults (server: the architecture's 500Mi/0.5 of its
	// Pi 4 #1 table, agent: its 200Mi/0.3).
	ServerOverhead, AgentOverhead Usage
	// NodeOverhead overrides the role's overhead for single nodes.
	NodeOverhead map[string]Usage
	// Ignore leaves workloads out of the analysis.
	Ignore []string
}

// Default k3s overheads, from the architecture's tables.
var (
	DefaultServerOverhead = Usage{Memory: 500 << 20, CPU: 500}
	DefaultAgentOverhead  = Usage{Memory: 200 << 20, CPU: 300}
)

func (o Options) overhead(n config.Node) Usage {
	if u, ok := o.NodeOverhead[n.Name]; ok {
		return u
	}
	if n.Role == config.RoleAgent {
		return orDefault(o.AgentOverhead, DefaultAgentOverhead)
	}
	return orDefault(o.ServerOverhead, DefaultServerOverhead)
}

func orDefault(u, def Usage) Usage {
	if u == (Usage{}) {
		return def
	}
	return u
}

// NodeTotal is what runs on a node.
type NodeTotal struct {
	Node      Node
	Pods      Usage
	Workloads []string
}

// Total is the pods' requests plus k3s.
func (t NodeTotal) Total() Usage { return t.Pods.Add(t.Node.Overhead) }

// Free is the capacity left after Total (negative when overcommitted).
func (t NodeTotal) Free() Usage { return t.Node.Capacity.Sub(t.Total()) }

// Failure is the outcome of losing one node.
type Failure struct {
	Node string
	// Quorum reports whether more than half of the servers remain.
	Quorum bool
	// Lost are pods whose HARD labels no other node can carry.
	Lost []string
	// Pinned are pods held by a local-path volume on the failed node.
	Pinned []string
	// ServedBy are the replicas that keep a workload with a pinned replica
	// serving ("pihole#2@pi4-2").
	ServedBy []string
	// Moved are pods rescheduled onto the remaining nodes.
	Moved []Placement
	// Unplaced are pods that could move but find no room.
	Unplaced []string
	// Nodes are the remaining nodes' totals after the moves.
	Nodes []NodeTotal
}

// Report is the capacity analysis of a cluster.
type Report struct {
	Nodes      []NodeTotal
	Placements []Placement
	// Transient are CronJob pods, placed against the steady state but not
	// counted in it.
	Transient []Placement
	Failures  []Failure
	// Errors make the cluster file unusable: a HARD rule no node can
	// satisfy, or workloads that do not fit at all.
	Errors []string
	// Warnings are risks: overcommitment counting k3s, SOFT rules not met,
	// pods without room after a single failure.
	Warnings []string
}

// Analyze places the pods of the rendered set on the cluster's nodes and
// then replays the failure of each node.
func Analyze(c *config.Cluster, set manifests.Set, opts Options) (*Report, error) {
	pods, err := Pods(set)
	if err != nil {
		return nil, fmt.Errorf("analysing capacity: %w", err)
	}
	pods = slices.DeleteFunc(pods, func(p Pod) bool { return slices.Contains(opts.Ignore, p.Workload) })
	nodes := nodesOf(c, opts)
	var steady, transient []Pod
	for _, p := range pods {
		if p.Transient {
			transient = append(transient, p)
		} else {
			steady = append(steady, p)
		}
	}
	r := &Report{}
	pl := newPlacer(nodes)
	placed, unplaced := pl.schedule(steady)
	r.Placements = placed
	r.Nodes = totals(nodes, placed)
	for _, p := range unplaced {
		r.Errors = append(r.Errors, unplacedMessage(p, nodes, ""))
	}
	r.checkSteady()
	r.placeTransient(pl, transient, nodes)
	for _, n := range nodes {
		r.Failures = append(r.Failures, r.fail(n.Name, nodes, placed))
	}
	return r, nil
}

// Check renders the cluster and analyses it with the default options: the
// capacity part of `nodeagent validate`.
func Check(c *config.Cluster) (*Report, error) {
	// Charts do not count here: a chartFile is read by the server that
	// applies, not by validate.
	set, err := manifests.RenderWith(c, manifests.Inputs{WithoutChartContent: true})
	if err != nil {
		return nil, err
	}
	return Analyze(c, set, Options{})
}

func totals(nodes []Node, placed []Placement) []NodeTotal {
	out := make([]NodeTotal, len(nodes))
	for i, n := range nodes {
		out[i].Node = n
		for _, p := range placed {
			if p.Node == n.Name {
				out[i].Pods = out[i].Pods.Add(p.Pod.Requests)
				out[i].Workloads = append(out[i].Workloads, p.Pod.Name())
			}
		}
	}
	return out
}

func unplacedMessage(p Pod, nodes []Node, context string) string {
	kind := "SOFT"
	if len(p.Require) > 0 {
		kind = "HARD"
	}
	var eligibleNodes []string
	for _, n := range nodes {
		if eligible(p, n) {
			eligibleNodes = append(eligibleNodes, n.Name)
		}
	}
	if len(eligibleNodes) == 0 {
		return fmt.Sprintf("%s%s: no node can carry %v", context, p.Name(), p.Require)
	}
	return fmt.Sprintf("%s%s (%s, needs %s) does not fit on %v", context, p.Name(), kind, formatUsage(p.Requests), eligibleNodes)
}

// checkSteady warns about overcommitment that only k3s's own use causes
// and about SOFT preferences the placement could not honour.
func (r *Report) checkSteady() {
	for _, t := range r.Nodes {
		if w := overcommit(t, ""); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	for _, p := range r.Placements {
		if !p.Preferred() {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s prefers %v but is placed on %s: no room there", p.Pod.Name(), p.Pod.Prefer, p.Node))
		}
	}
}

func overcommit(t NodeTotal, context string) string {
	if t.Total().Fits(t.Node.Capacity) {
		return ""
	}
	return fmt.Sprintf("%s%s: pods request %s, with k3s (%s) %s of %s: the scheduler does not see k3s (no system-reserved), so they compete at full load",
		context, t.Node.Name, formatUsage(t.Pods), formatUsage(t.Node.Overhead), formatUsage(t.Total()), formatUsage(t.Node.Capacity))
}

func (r *Report) placeTransient(pl *placer, pods []Pod, nodes []Node) {
	for _, p := range pods {
		node, ok := pl.best(p)
		if !ok {
			r.Warnings = append(r.Warnings, unplacedMessage(p, nodes, "CronJob "))
			continue
		}
		r.Transient = append(r.Transient, Placement{Pod: p, Node: node})
	}
}
