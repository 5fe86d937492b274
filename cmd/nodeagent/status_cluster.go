package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/serverwork"
)

// none marks what a node does not have in the cluster table.
const none = "—"

// runClusterStatus is `nodeagent status --cluster`: every node of the
// cluster, read through this server's kubeconfig and etcd.
func runClusterStatus(cmd *cobra.Command, g *cli.Globals, output string) error {
	f, n, err := thisServer(g, "it has no kubeconfig nor etcd: run `nodeagent status --cluster` on a server")
	if err != nil {
		return err
	}
	kubeconfig := g.HostRoot().Path(kube.K3sKubeconfig)
	if _, err := os.Stat(kubeconfig); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: k3s has not started on %s yet; run `nodeagent status --cluster` on a server that has joined", kubeconfig, n.Name)
	}
	p := newServerWork(g, f, n)
	defer p.Close()
	s, err := p.ClusterStatus(cmd.Context())
	if err != nil {
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	writeClusterStatus(cmd.OutOrStdout(), s, f.K3s.Version)
	return nil
}

// writeClusterStatus writes the apply Lease and the k3s rollout (against
// k3sVersion, the cluster file's), one table row per node, then what does
// not fit in a column (messages, labels, the last apply), one node after
// another.
func writeClusterStatus(w io.Writer, s *serverwork.ClusterStatus, k3sVersion string) {
	var b strings.Builder
	writeApplyLease(&b, s.ApplyLease)
	writeRollout(&b, &s.Rollout, k3sVersion)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tK3S\tREADY\tETCD\tNODEAGENT")
	for _, n := range s.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Role, orNone(n.K3sVersion), readyColumn(n), etcdColumn(n, s.EtcdError != ""), conditionColumn(n.NodeagentReady))
	}
	tw.Flush()
	for _, n := range s.Nodes {
		writeNodeDetails(&b, n)
	}
	if s.EtcdError != "" {
		fmt.Fprintf(&b, "etcd      unknown: %s\n", shortLine(s.EtcdError))
	}
	for _, m := range s.OtherMembers {
		fmt.Fprintf(&b, "etcd      %s (of no node) %s\n", m.Name, memberHealth(m))
	}
	io.WriteString(w, b.String())
}

// writeApplyLease names the apply Lease's holder; a released Lease (the
// last applier is done) has none, only the time of its release.
func writeApplyLease(b *strings.Builder, l *serverwork.LeaseState) {
	switch {
	case l == nil:
		fmt.Fprintln(b, "apply     lease never taken: no server has applied the manifests")
	case l.Holder == "":
		fmt.Fprintf(b, "apply     lease free, released %s\n", l.RenewTime.Local().Format(time.DateTime))
	default:
		fmt.Fprintf(b, "apply     lease held by %s, renewed %s\n", l.Holder, l.RenewTime.Local().Format(time.DateTime))
	}
}

// writeNodeDetails writes a node's condition message, owned labels, last
// apply and unhealthy etcd members, under its name.
func writeNodeDetails(b *strings.Builder, n serverwork.ClusterNode) {
	var lines []string
	if c := n.NodeagentReady; c != nil && c.Message != "" {
		lines = append(lines, "nodeagent "+shortLine(c.Message))
	}
	if len(n.OwnedLabels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(n.OwnedLabels)) {
			kv = append(kv, k+"="+n.OwnedLabels[k])
		}
		lines = append(lines, "labels    "+strings.Join(kv, ", "))
	}
	if a := n.LastApply; a != nil {
		lines = append(lines, "applied   "+a.At.Local().Format(time.DateTime)+": "+shortLine(a.Message))
	}
	for _, m := range n.Etcd {
		if !m.Healthy {
			lines = append(lines, "etcd      "+m.Name+" "+shortLine(memberHealth(m)))
		}
	}
	for i, l := range lines {
		name := ""
		if i == 0 {
			name = n.Name
		}
		fmt.Fprintf(b, "%-9s %s\n", name, l)
	}
}

func readyColumn(n serverwork.ClusterNode) string {
	switch {
	case !n.Registered:
		return "not registered"
	case n.Ready == "True":
		return "Ready"
	case n.Ready == "False":
		return "NotReady"
	}
	return orNone(n.Ready)
}

// etcdColumn is each member's kind and health in short; a server without
// a member says so, an agent has none to say.
func etcdColumn(n serverwork.ClusterNode, unknown bool) string {
	switch {
	case unknown && n.Role == config.RoleServer:
		return "unknown"
	case unknown:
		return none
	case len(n.Etcd) == 0 && n.Registered && n.Role == config.RoleServer:
		return "no member"
	case len(n.Etcd) == 0:
		return none
	}
	var out []string
	for _, m := range n.Etcd {
		kind, health := "voter", "healthy"
		if m.Learner {
			kind = "learner"
		}
		if !m.Healthy {
			health = "unhealthy"
		}
		out = append(out, kind+" "+health)
	}
	return strings.Join(out, ", ")
}

func memberHealth(m serverwork.EtcdMember) string {
	kind := "voter"
	if m.Learner {
		kind = "learner"
	}
	if m.Healthy {
		return kind + " healthy"
	}
	return kind + " unhealthy: " + m.Reason
}

// conditionColumn is the NodeagentReady status with its reason.
func conditionColumn(c *serverwork.NodeCondition) string {
	if c == nil {
		return none
	}
	if c.Reason == "" {
		return c.Status
	}
	return c.Status + " " + c.Reason
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}
