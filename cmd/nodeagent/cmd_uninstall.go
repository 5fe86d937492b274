package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/firewall"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/uninstall"
)

func newUninstallCommand(g *cli.Globals) *cobra.Command {
	var yes, purge bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove k3s from this node as k3s-uninstall.sh does, plus nodeagent's UFW rules and mount units",
		Long: `uninstall removes k3s from this node, as the k3s-killall.sh and
k3s-uninstall.sh scripts of k3s's install.sh do: it stops and disables the
nodeagent daemon (which would install k3s again) and k3s's units, kills the
container shims that k3s's KillMode=process leaves running, unmounts k3s's
mounts (/run/k3s, /var/lib/kubelet/pods and plugins, CNI network
namespaces), deletes the CNI namespaces, cni0, flannel's and kube-proxy's
interfaces, and k3s's KUBE-/CNI-/flannel iptables chains and rules, and
removes k3s's units, binary, kubectl/crictl/ctr links, config
(/etc/rancher/k3s) and data (/var/lib/rancher/k3s, /var/lib/kubelet,
/var/lib/cni). It also undoes nodeagent's UFW changes (as ` + "`nodeagent firewall undo`" + `)
and stops and removes nodeagent's data-disk mount units.

It never touches what is on a data disk: unmounting it leaves its files as
they are, and a filesystem mounted below a directory it removes stays, with
what is on it, and is named. etcd's data (` + uninstall.EtcdDataDir + `) is moved
aside to ` + uninstall.AsideDir + `<UTC time>, unless --purge.

It prints what it will do and asks; --yes does without asking, and without
--yes it refuses when stdin is no terminal. Removing or purging the nodeagent
package never runs it. A node that is still a member should ` + "`nodeagent leave`" + ` first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("uninstall needs root")
			}
			return runUninstall(cmd.Context(), g, cmd.InOrStdin(), cmd.OutOrStdout(), yes, purge)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask")
	cmd.Flags().BoolVar(&purge, "purge", false, "delete etcd's data instead of moving it aside")
	return cmd
}

func runUninstall(ctx context.Context, g *cli.Globals, in io.Reader, out io.Writer, yes, purge bool) error {
	root, run := g.HostRoot(), host.NewExecRunner(g.Log)
	extra := []string{agent.LeftPath, k3s.RestartPendingPath}
	obs, err := uninstall.Observe(ctx, root, run, extra...)
	if err != nil {
		return fmt.Errorf("reading what k3s left on the host: %w", err)
	}
	fw := firewall.New(root, run, g.Log)
	opts := uninstall.Options{Purge: purge, Now: host.RealClock{}.Now(), Extra: extra}
	if opts.Firewall, err = firewallChanged(ctx, root, fw); err != nil {
		return err
	}
	plan := uninstall.Decide(obs, opts)
	if len(plan.Actions) == 0 {
		fmt.Fprintln(out, "nothing of k3s or nodeagent's to remove")
		return nil
	}
	fmt.Fprintln(out, "nodeagent uninstall will:")
	for _, a := range plan.Actions {
		fmt.Fprintf(out, "  - %s\n", a)
	}
	for _, l := range plan.Left {
		fmt.Fprintf(out, "  (stays: %s)\n", l)
	}
	if !yes {
		if err := confirm(in, out); err != nil {
			return err
		}
	}
	a := &uninstall.Applier{Root: root, Run: run, Log: g.Log, Firewall: func(ctx context.Context) ([]string, []string, error) {
		res, err := fw.Undo(ctx)
		done := make([]string, len(res.Applied))
		for i, ch := range res.Applied {
			done[i] = ch.Description
		}
		return done, res.Left, err
	}}
	res, err := a.Apply(ctx, plan, func(s string) { fmt.Fprintf(out, "  … %s\n", s) })
	for _, l := range res.Left {
		fmt.Fprintf(out, "left: %s\n", l)
	}
	if err != nil {
		return fmt.Errorf("uninstall not complete (run it again once the cause is fixed): %w", err)
	}
	fmt.Fprintln(out, "k3s removed")
	return nil
}

// firewallChanged is whether nodeagent changed UFW: its record of UFW
// before it, or a rule with its comment tag.
func firewallChanged(ctx context.Context, root host.Root, fw *firewall.Firewall) (bool, error) {
	if _, err := os.Stat(root.Path(firewall.BeforePath)); err == nil {
		return true, nil
	}
	st, err := fw.Observe(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range st.Rules {
		if r.Owned() {
			return true, nil
		}
	}
	return false, nil
}

// confirm asks on a terminal; anywhere else it refuses.
func confirm(in io.Reader, out io.Writer) error {
	f, ok := in.(*os.File)
	if !ok {
		return errors.New("refusing to uninstall without --yes: stdin is not a terminal")
	}
	// A terminal answers TCGETS; /dev/null, also a character device, does not.
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return errors.New("refusing to uninstall without --yes: stdin is not a terminal")
	}
	fmt.Fprint(out, "Remove k3s from this node? [y/N] ")
	answer, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not uninstalled")
	}
	return nil
}
