package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

func newStatusCommand(g *cli.Globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One screen: k3s, etcd quorum, labels, disks, manifests, firewall, last errors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// No server work in the agent: only the etcd view below needs one.
			a, closeAll, err := g.NewAgent(cmd.Context(), &agent.TerminalReporter{W: io.Discard}, release.Options{}, nil)
			if err != nil {
				return err
			}
			defer closeAll()
			r := statusScreen{StatusReport: a.Status(cmd.Context())}
			if a.Node.Role == config.RoleServer {
				p := newServerWork(g, a.File, a.Node)
				defer p.Close()
				if r.Etcd, err = p.Etcd(cmd.Context()); err != nil {
					r.Problems = append(r.Problems, "etcd: "+err.Error())
				}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			writeStatus(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// statusScreen is the agent's report with a server's etcd view.
type statusScreen struct {
	agent.StatusReport
	Etcd *serverwork.EtcdStatus `json:"etcd,omitempty"`
}

func writeStatus(w io.Writer, r statusScreen) {
	var b strings.Builder
	fmt.Fprintf(&b, "node      %s (%s), joined: %v\n", r.Node, r.Role, r.Joined)
	fmt.Fprintf(&b, "k3s       %s, unit: %s\n", r.K3sVersion, orDash(r.K3sUnit))
	if r.Etcd != nil {
		writeEtcd(&b, r.Etcd)
	}
	keys := make([]string, 0, len(r.Labels))
	for k, v := range r.Labels {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "labels    %s\n", orDash(strings.Join(keys, ", ")))
	for _, d := range r.Disks {
		state := "mounted " + d.Device.Path
		if !d.Mounted {
			state = "NOT mounted: " + d.Problem
		}
		fmt.Fprintf(&b, "disk      %s %s\n", d.MountPoint, state)
	}
	writeManifests(&b, r.Manifests)
	f := r.Firewall
	fmt.Fprintf(&b, "firewall  managed: %v, active: %v, owned rules: %d, drift: %d\n", f.Managed, f.Active, f.OwnedRules, f.Drift)
	for _, e := range r.LastErrors {
		fmt.Fprintf(&b, "error     %s\n", e)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "unknown   %s\n", p)
	}
	io.WriteString(w, b.String())
}

// writeManifests writes this server's last manifests apply, or that
// another server held the apply lease then.
func writeManifests(b *strings.Builder, m *child.ApplyRecord) {
	if m == nil {
		return
	}
	at := m.At.Local().Format(time.DateTime)
	switch {
	case m.HeldBy != "":
		fmt.Fprintf(b, "manifests %s: %s held the apply lease and applied\n", at, m.HeldBy)
		return
	case m.Error != "" && m.Counts == nil:
		fmt.Fprintf(b, "manifests %s by %s: FAILED: %s\n", at, m.By, m.Error)
		return
	}
	var counts []string
	for _, k := range slices.Sorted(maps.Keys(m.Counts)) {
		counts = append(counts, fmt.Sprintf("%d %s", m.Counts[k], k))
	}
	fmt.Fprintf(b, "manifests %s by %s: %d objects (%s)", at, m.By, m.Objects, strings.Join(counts, ", "))
	if m.Stopped {
		b.WriteString(", stopped: quorum lost")
	}
	b.WriteString("\n")
	for _, f := range m.Failures {
		fmt.Fprintf(b, "          - %s\n", f)
	}
}

// writeEtcd writes the quorum state and one line per member.
func writeEtcd(b *strings.Builder, e *serverwork.EtcdStatus) {
	state := "DEGRADED: no quorum"
	if e.Quorum {
		state = "quorum"
	}
	fmt.Fprintf(b, "etcd      %s (%s), leader %s\n", state, e.Summary, orDash(e.Leader))
	for _, m := range e.Members {
		kind, health := "voter", "healthy"
		if m.Learner {
			kind = "learner"
		}
		if !m.Healthy {
			health = "unhealthy: " + m.Reason
		}
		fmt.Fprintf(b, "          - %s %s %s\n", m.Name, kind, health)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
