package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/serverwork"
)

// writeK3s writes the k3s line: the cluster file's version, the installed
// one when it differs (an upgrade not done yet, or rolled back), the unit.
func writeK3s(b *strings.Builder, want, installed, unit string) {
	v := want
	if installed != "" && installed != want {
		v = fmt.Sprintf("%s (installed: %s)", want, installed)
	}
	fmt.Fprintf(b, "k3s       %s, unit: %s\n", v, orDash(unit))
}

// writeRollout writes the k3s rollout the restart Lease records: the
// server upgrading now, and a failed version while the cluster file still
// asks for it (the rollout is stopped until k3s.version changes).
func writeRollout(b *strings.Builder, r *serverwork.RolloutStatus, want string) {
	if r == nil {
		return
	}
	if p := r.InProgress; p != nil {
		fmt.Fprintf(b, "rollout   %s upgrading k3s to %s since %s\n", p.Node, p.Version, p.Since.Local().Format(time.DateTime))
	}
	if f := r.Failed; f != nil && f.Version == want {
		fmt.Fprintf(b, "rollout   STOPPED: k3s %s did not come back on %s (%s): %s; %s runs its previous k3s again, the servers not upgraded stay on theirs; set another k3s.version\n",
			f.Version, f.Node, f.Since.Local().Format(time.DateTime), shortLine(f.Reason), f.Node)
	}
}
