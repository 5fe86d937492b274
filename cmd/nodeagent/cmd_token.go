package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

func newTokenCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the cluster's shared k3s tokens"}
	var file string
	var agent bool
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write a new random server token file, or with --agent agent token file (mode 0600)",
		Long: `Write a new random token file (mode 0600). The server token (k3s.tokenFile)
goes to every server and never to an agent: it unlocks the cluster's CA keys.
The agent token (--agent, k3s.agentTokenFile) goes to every node; servers
accept it for agent joins only (k3s's agent-token). An existing file is
never replaced. The token is never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			where := "every server, never to an agent"
			if agent {
				where = "every node"
			}
			if file == "" {
				f, err := g.LoadCluster()
				if err != nil {
					return err
				}
				file = g.HostRoot().Path(f.K3s.TokenFile)
				if agent {
					file = g.HostRoot().Path(f.K3s.AgentTokenFile)
				}
			}
			if err := k3s.GenerateToken(file); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (mode 0600): copy it to the same path on %s\n", file, where)
			return nil
		},
	}
	gen.Flags().StringVar(&file, "file", "", "where to write the token (default: k3s.tokenFile, or k3s.agentTokenFile with --agent)")
	gen.Flags().BoolVar(&agent, "agent", false, "write the agent token (k3s.agentTokenFile) instead of the server token")
	cmd.AddCommand(gen, newTokenPinCommand(g))
	return cmd
}

func newTokenPinCommand(g *cli.Globals) *cobra.Command {
	var out string
	pin := &cobra.Command{
		Use:   "pin",
		Short: "Pin the token to this cluster's CA (K10<CA sha256>::server:<secret>)",
		Long: `Pin the cluster token to this cluster's CA.

Run it on a server that has joined (its k3s has written
` + k3s.ServerCAPath + `). It reads the token file (k3s.tokenFile of the
cluster file), keeps its secret and writes k3s's secure form
K10<sha256 of the CA>::server:<secret> (mode 0600), by default back to the
token file itself (atomically, and only when it changes). A joiner holding a
pinned token trusts only a server whose /cacerts hashes to the pin, and never
initialises a new cluster. A token file that already pins another CA belongs
to another cluster and is not replaced. The token is never printed.

Copy the pinned file to the same path on every node. Changing the token file
on a node whose k3s runs changes the token in k3s's config.yaml, so nodeagent
restarts k3s there in its rolling restart turn, one server at a time, which is
safe: the secret, and so the cluster's credentials, stay the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.LoadCluster()
			if err != nil {
				return err
			}
			root := g.HostRoot()
			hash, changed, err := k3s.WritePinnedToken(root, f.K3s.TokenFile, out)
			if err != nil {
				return err
			}
			path := out
			if path == "" {
				path = root.Path(f.K3s.TokenFile)
			}
			verb := "wrote"
			if !changed {
				verb = "already pinned:"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (mode 0600): pins cluster CA sha256 %s…; copy it to the same path on every node\n", verb, path, hash[:12])
			return nil
		},
	}
	pin.Flags().StringVar(&out, "file", "", "where to write the pinned token; a file other than the token file must not exist yet (default: k3s.tokenFile of the cluster file, replaced in place)")
	return pin
}
