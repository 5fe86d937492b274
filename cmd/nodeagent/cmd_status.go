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
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

func newStatusCommand(g *cli.Globals) *cobra.Command {
	var output string
	var cluster bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One screen: what the daemon does now, k3s, etcd quorum, labels, disks, manifests, firewall, last errors",
		Long: `status shows this node: what the daemon does now, k3s (the cluster file's
version, and the installed one when they differ), the k3s rollout on a server
(the server upgrading now, to which version, since when; a version that did
not come back, which stopped the rollout), etcd quorum (on a server), labels, disks, the last manifests apply, the Secrets the workloads
need (on a server: each missing one with the workloads it blocks and how to
create it; random ones nodeagent generates show as "will be generated"), the
firewall and the last errors.

With --cluster, run on a server, it shows every node of the cluster in one
table, read through the server's kubeconfig and etcd: role (from the Node's
node-role labels), k3s version, Ready, etcd member health, the NodeagentReady
condition, the labels nodeagent owns on the node and its last manifests apply
(the newest ManifestsApplied Event on the Node), with the apply Lease's holder.
Nodes the cluster file names but the API does not know are shown as "not
registered".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			if cluster {
				return runClusterStatus(cmd, g, output)
			}
			live, running, liveErr := agent.ReadLive(g.HostRoot())
			// No server work in the agent: only the etcd view below needs one.
			a, closeAll, err := g.NewAgent(cmd.Context(), &agent.TerminalReporter{W: io.Discard}, release.Options{}, nil)
			if err != nil {
				// An invalid cluster file: the daemon goes on with the one it
				// loaded, so say what it does and what is wrong with the file.
				if output != "json" {
					writeDaemon(cmd.OutOrStdout(), live, running, liveErr)
				}
				return err
			}
			defer closeAll()
			r := statusScreen{StatusReport: a.Status(cmd.Context())}
			if running {
				r.Daemon = &live
			}
			if a.Node.Role == config.RoleServer {
				p := newServerWork(g, a.File, a.Node)
				defer p.Close()
				if r.Etcd, err = p.Etcd(cmd.Context()); err != nil {
					r.Problems = append(r.Problems, "etcd: "+err.Error())
				}
				if r.Secrets, err = p.Secrets(cmd.Context()); err != nil {
					r.Problems = append(r.Problems, "secrets: "+err.Error())
				}
				if ro, err := p.Rollout(cmd.Context()); err != nil {
					r.Problems = append(r.Problems, "k3s rollout: "+err.Error())
				} else {
					r.Rollout = &ro
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
	cmd.Flags().BoolVar(&cluster, "cluster", false, "every node of the cluster, from a server's kubeconfig and etcd")
	return cmd
}

// statusScreen is the agent's report with a server's etcd view and what
// the daemon does now.
type statusScreen struct {
	agent.StatusReport
	Etcd   *serverwork.EtcdStatus `json:"etcd,omitempty"`
	Daemon *agent.Live            `json:"daemon,omitempty"`
	// Secrets are the Secrets the workloads need (on a server), with
	// their keys and state, never a value.
	Secrets []manifests.SecretState `json:"secrets,omitempty"`
	// Rollout is the k3s rollout the restart Lease records (on a server).
	Rollout *serverwork.RolloutStatus `json:"k3sRollout,omitempty"`
}

// writeDaemon writes what the daemon does now, and since when.
func writeDaemon(w io.Writer, live agent.Live, running bool, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "daemon    unknown: %v\n", err)
	case !running:
		fmt.Fprintln(w, "daemon    not running (systemctl status nodeagent)")
	default:
		fmt.Fprintf(w, "daemon    %s (since %s)\n", live.Status, live.StatusSince.Local().Format(time.TimeOnly))
		if live.Phase != "" {
			fmt.Fprintf(w, "phase     %s since %s\n", live.Phase, live.PhaseSince.Local().Format(time.TimeOnly))
		}
	}
}

func writeStatus(w io.Writer, r statusScreen) {
	var b strings.Builder
	writeDaemon(&b, ptrOr(r.Daemon), r.Daemon != nil, nil)
	fmt.Fprintf(&b, "node      %s (%s), joined: %v\n", r.Node, r.Role, r.Joined)
	writeK3s(&b, r.K3sVersion, r.K3sInstalled, r.K3sUnit)
	writeRollout(&b, r.Rollout, r.K3sVersion)
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
	writeSealedKeys(&b, r.SealedKeys)
	writeSecrets(&b, r.Secrets)
	f := r.Firewall
	fmt.Fprintf(&b, "firewall  managed: %v, active: %v, owned rules: %d, drift: %d\n", f.Managed, f.Active, f.OwnedRules, f.Drift)
	writeErrors(&b, r.LastErrors)
	if !r.Joined && len(r.Problems) > 0 {
		// What cannot be read before the join (no kubeconfig, no k3s
		// unit) is not a problem yet.
		var areas []string
		for _, p := range r.Problems {
			area, _, _ := strings.Cut(p, ":")
			areas = append(areas, area)
		}
		fmt.Fprintf(&b, "not yet   %s (the node has not joined)\n", strings.Join(areas, ", "))
	} else {
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "unknown   %s\n", shortLine(p))
		}
	}
	io.WriteString(w, b.String())
}

// writeErrors writes the recorded errors once each, the most recent last,
// with how often each came ("2026-12-02T12:03:04Z <error>" entries).
func writeErrors(b *strings.Builder, errs []string) {
	type seen struct {
		count int
		last  string
	}
	var order []string
	byMsg := map[string]*seen{}
	for _, e := range errs {
		at, msg, ok := strings.Cut(e, " ")
		if !ok {
			at, msg = "", e
		}
		if byMsg[msg] == nil {
			byMsg[msg] = &seen{}
		} else {
			order = slices.DeleteFunc(order, func(m string) bool { return m == msg })
		}
		order = append(order, msg)
		byMsg[msg].count++
		byMsg[msg].last = at
	}
	for _, msg := range order {
		s := byMsg[msg]
		when := s.last
		if t, err := time.Parse(time.RFC3339, s.last); err == nil {
			when = t.Local().Format(time.DateTime)
		}
		times := ""
		if s.count > 1 {
			times = fmt.Sprintf(" (%d×)", s.count)
		}
		fmt.Fprintf(b, "error     %s%s: %s\n", when, times, shortLine(msg))
	}
}

// shortLine keeps an error to one screen line or two.
func shortLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		return string(r[:60]) + " … " + string(r[len(r)-97:])
	}
	return s
}

func ptrOr(l *agent.Live) agent.Live {
	if l == nil {
		return agent.Live{}
	}
	return *l
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
	for _, g := range m.Generated {
		fmt.Fprintf(b, "          - generated Secret %s\n", g)
	}
	for _, h := range append(slices.Clone(m.Held), m.Placement...) {
		fmt.Fprintf(b, "          - %s\n", h)
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
