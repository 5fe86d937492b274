package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
)

// installedDaemon is where the package puts nodeagentd.
const installedDaemon = "/usr/lib/nodeagent/nodeagentd"

func newRunCommand(_ *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "The daemon: join if needed, then keep the node in step on events",
		Long: `run is what nodeagent.service starts (Type=notify). It hands over to
nodeagentd, the resident daemon, by exec: the same process, so systemd's
notify socket and watchdog see one main process throughout. nodeagentd links
none of client-go's clientset or the etcd client, which keeps it small while
idle; for a server's quorum and manifests phases it runs this binary as a
child (` + "`nodeagent quorum --wait`, `nodeagent apply`" + `).

On a node that has not joined it does the work of join first; then it
reconciles on USB hotplug, disks appearing or vanishing, edits of the cluster
file and the overlay directory, and address changes, plus a slow resync. It
stops cleanly on SIGTERM. Until the cluster file is valid and names this
machine, it waits for it to change instead of exiting.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding this binary: %w", err)
			}
			daemon, err := findDaemon(self)
			if err != nil {
				return err
			}
			args := append(append([]string{daemon}, os.Args[1:]...), "--cli", self)
			if err := syscall.Exec(daemon, args, os.Environ()); err != nil {
				return fmt.Errorf("starting %s: %w", daemon, err)
			}
			return nil // not reached: exec replaced this program
		},
	}
}

// findDaemon looks for nodeagentd next to this binary (a build tree, bin/),
// then where the package installs it.
func findDaemon(self string) (string, error) {
	candidates := []string{filepath.Join(filepath.Dir(self), "nodeagentd"), installedDaemon}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("looking for nodeagentd: %w", err)
		}
	}
	return "", fmt.Errorf("nodeagentd, the daemon, is at neither %s nor %s: install the package or run make build", candidates[0], candidates[1])
}
