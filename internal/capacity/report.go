package capacity

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// String prints the report as tables for `nodeagent plan`.
func (r *Report) String() string {
	var b strings.Builder
	b.WriteString("Placement (pod requests; k3s itself is not seen by the scheduler)\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCAPACITY\tK3S\tPODS\tTOTAL\tFREE\tWORKLOADS")
	for _, t := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Node.Name, formatUsage(t.Node.Capacity), formatUsage(t.Node.Overhead),
			formatUsage(t.Pods), formatUsage(t.Total()), formatUsage(t.Free()), strings.Join(t.Workloads, " "))
	}
	tw.Flush()
	if len(r.Transient) > 0 {
		b.WriteString("\nCronJobs (run briefly beside the above)\n")
		for _, p := range r.Transient {
			fmt.Fprintf(&b, "  %s on %s (%s)\n", p.Pod.Name(), p.Node, formatUsage(p.Pod.Requests))
		}
	}
	b.WriteString("\nSingle-node failures\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOWN\tQUORUM\tLOST (HARD)\tHELD BY VOLUME\tSTILL SERVED BY\tMOVED\tNO ROOM\tFREE AFTER")
	for _, f := range r.Failures {
		var moved, free []string
		for _, m := range f.Moved {
			moved = append(moved, m.Pod.Name()+"→"+m.Node)
		}
		for _, t := range f.Nodes {
			free = append(free, t.Node.Name+" "+formatUsage(t.Free()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Node, yesNo(f.Quorum), list(f.Lost), list(f.Pinned), list(f.ServedBy), list(moved), list(f.Unplaced), strings.Join(free, ", "))
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// formatUsage prints "1150Mi/0.85cpu".
func formatUsage(u Usage) string {
	return fmt.Sprintf("%dMi/%.2fcpu", divRound(u.Memory, 1<<20), float64(u.CPU)/1000)
}

func divRound(a, b int64) int64 {
	if a < 0 {
		return -divRound(-a, b)
	}
	return (a + b/2) / b
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
