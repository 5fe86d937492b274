package main

import (
	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
)

func newRootCommand() *cobra.Command {
	g := &cli.Globals{}
	root := &cobra.Command{
		Use:   "nodeagent",
		Short: "Provision a Raspberry Pi as a node of a k3s homelab",
		Long: `nodeagent turns a freshly flashed Raspberry Pi into a member of a highly
available k3s cluster described by one cluster file (default ` + config.DefaultPath + `;
without it, the built-in homelab): it installs and joins k3s, mounts the storage
disk, labels the node after its USB devices, configures UFW and applies the
cluster's manifests once etcd has quorum.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.AddFlags(root)
	root.AddCommand(
		newPlanCommand(g),
		newValidateCommand(g),
		newConfigCommand(g),
		newVersionCommand(),
		newJoinCommand(g),
		newRunCommand(g),
		newTokenCommand(g),
		newStatusCommand(g),
		newDoctorCommand(g, dialSystemd),
		newQuorumCommand(g),
		newApplyCommand(g),
		newRestartTurnCommand(g),
		newStaleMemberCommand(g),
		newSealedKeysCommand(g),
		newRemoveNodeCommand(g),
		newRemoveLeftAgentCommand(g),
		newLeaveCommand(g),
		newUninstallCommand(g),
		newSnapshotCommand(g),
		newSnapshotsCommand(g),
		newFirewallCommand(g),
		newRestoreCommand(g),
		newRestoreRejoinCommand(g),
		newRestoreRecordCommand(g),
	)
	root.AddCommand(newManCommand(root))
	return root
}
