// Package cli holds what both of nodeagent's programs share: the global
// flags, how they find the cluster file and this node, and how they build the
// agent. cmd/nodeagent is the full command line; cmd/nodeagentd is the
// resident daemon, kept free of the dependencies only the server work
// needs.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/agent"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/identity"
	"github.com/nodeagent/nodeagent/internal/logging"
	"github.com/nodeagent/nodeagent/internal/release"
	"github.com/nodeagent/nodeagent/internal/systemd"
)

// Globals are the flags every command shares, and the logger they set up.
type Globals struct {
	ConfigPath string
	NodeName   string
	RootDir    string
	USBRoot    string
	LogLevel   string
	Log        *zap.Logger
	// Phase marks Log's entries with the agent's phase in progress.
	Phase *logging.Phase
}

// AddFlags registers the shared flags on root and sets up the logger before
// any command runs.
func (g *Globals) AddFlags(root *cobra.Command) {
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		log, err := logging.New(g.LogLevel)
		if err != nil {
			return err
		}
		g.Phase = &logging.Phase{}
		g.Log = g.Phase.Logger(log)
		return nil
	}
	f := root.PersistentFlags()
	f.StringVar(&g.ConfigPath, "config", "", "cluster file (default "+config.DefaultPath+"; plan and validate fall back to the built-in homelab)")
	f.StringVar(&g.NodeName, "node", "", "this node's name in the cluster file (default: by hostname or local address)")
	f.StringVar(&g.RootDir, "root", "/", "host root that /sys, /dev, /etc and /var are read under (for tests and images)")
	f.StringVar(&g.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&g.USBRoot, "usb-root", "", "read USB devices under this root instead (test fixtures)")
	_ = f.MarkHidden("root")
	_ = f.MarkHidden("usb-root")
}

// LoadCluster reads --config, else the default path if it exists, else the
// built-in homelab, which only read-only commands accept: ThisNode refuses it.
func (g *Globals) LoadCluster() (*config.File, error) {
	path, err := g.ConfigFilePath()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// ConfigFilePath is the absolute path of the cluster file in use, or "" for
// the built-in one.
func (g *Globals) ConfigFilePath() (string, error) {
	if g.ConfigPath != "" {
		return filepath.Abs(g.ConfigPath)
	}
	path := g.HostRoot().Path(config.DefaultPath)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading cluster file: %w", err)
	}
	return "", nil
}

// HostRoot is the --root the host is read and changed under.
func (g *Globals) HostRoot() host.Root { return host.NewRoot(g.RootDir) }

// ThisNode resolves the node this machine is, with a clear error otherwise.
// The built-in homelab names no real machine: commands that act on this node
// (join, run, doctor, the platform phases) get identity.ErrNoClusterFile
// instead, while plan and validate keep it as their fallback.
func (g *Globals) ThisNode(f *config.File) (config.Node, error) {
	if f.Source == config.BuiltinName {
		return config.Node{}, identity.ErrNoClusterFile
	}
	facts, err := identity.LocalFacts()
	if err != nil {
		g.Log.Debug("cannot read local identity", zap.Error(err))
	}
	name, source := g.NodeName, "--node"
	if name == "" {
		// The service's place for the name: it takes no --node. A bad
		// file counts as no node, so the daemon waits for its fix.
		source = identity.NodeFile
		if name, err = identity.ReadNodeFile(g.HostRoot().Path(identity.NodeFile)); err != nil {
			return config.Node{}, fmt.Errorf("%w: %v", identity.ErrNotANode, err)
		}
	}
	n, err := identity.Resolve(&f.Cluster, name, facts)
	if err != nil && name != "" && source != "--node" {
		err = fmt.Errorf("%w: %s: %v", identity.ErrNotANode, identity.NodeFile, err)
	}
	if err == nil && name != "" && !identity.IsLocal(n, facts) {
		// Naming the node is the explicit way and stays so (images,
		// tests), but a typo of the node name should not go unnoticed.
		g.Log.Warn("the named node has its address on no local interface", zap.String("by", source),
			zap.String("node", n.Name), zap.String("address", n.Address), zap.Stringers("localAddresses", facts.Addrs))
	}
	return n, err
}

// ChildArgs are the flags that make a nodeagent child process see the
// cluster file, node, root and log level this one sees. On an error finding
// the cluster file they lack --config, and the child looks for it itself.
func (g *Globals) ChildArgs(n config.Node) ([]string, error) {
	args := []string{"--node", n.Name, "--root", g.RootDir, "--log-level", g.LogLevel}
	path, err := g.ConfigFilePath()
	if path != "" {
		args = append(args, "--config", path)
	}
	return args, err
}

// ServerWorkFactory builds a server's quorum, manifests and restart-turn work.
type ServerWorkFactory func(*config.File, config.Node) agent.ServerWork

// NewAgent builds the agent for this machine with the real host: commands
// without systemd's notify variables, systemd over D-Bus.
func (g *Globals) NewAgent(ctx context.Context, rep agent.Reporter, download release.Options, newServerWork ServerWorkFactory) (*agent.Agent, func(), error) {
	if os.Geteuid() != 0 {
		return nil, nil, fmt.Errorf("nodeagent changes the host (k3s, mounts, UFW): run it as root")
	}
	f, err := g.LoadCluster()
	if err != nil {
		return nil, nil, err
	}
	n, err := g.ThisNode(f)
	if err != nil {
		return nil, nil, err
	}
	runner := host.NewExecRunner(g.Log)
	runner.Env = systemd.ChildEnv(os.Environ())
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sd, err := systemd.New(dialCtx, g.Log, g.HostRoot())
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to systemd: %w", err)
	}
	var usbRoot host.Root
	if g.USBRoot != "" {
		usbRoot = host.NewRoot(g.USBRoot)
	}
	a := agent.New(agent.Deps{
		USBRoot: usbRoot,
		Log:     g.Log, File: f, Node: n, Root: g.HostRoot(), Runner: runner, Clock: host.RealClock{},
		Reporter: rep, Systemd: sd, Download: download, NewServerWork: newServerWork,
		Phase: g.Phase,
	})
	return a, func() { a.Close(); sd.Close() }, nil
}
