// Command nodeagentd is the resident half of `nodeagent run`: the daemon
// nodeagent.service keeps running on every node. `nodeagent run` hands over
// to it (exec, same process), so systemd sees one main process throughout.
//
// It links what the daemon needs every day (the step packages, the event
// sources, client-go's metadata client for node labels) and nothing of what
// only a join or a resync needs: the quorum and manifests phases run in a
// short-lived `nodeagent` child (serverwork/child). That keeps the
// idle daemon small on a Pi: test/deps checks what it links, test/deb
// measures its resident memory.
package main

import (
	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	g := &cli.Globals{}
	root := &cobra.Command{
		Use:           "nodeagentd",
		Short:         "The nodeagent daemon (started through `nodeagent run`)",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.AddFlags(root)
	root.AddCommand(newRunCommand(g))
	cli.Execute(root)
}
