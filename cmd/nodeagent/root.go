package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/logging"
)

// globals are the flags every command shares.
type globals struct {
	configPath string
	node       string
	root       string
	usbRoot    string
	logLevel   string
	log        *zap.Logger
}

func newRootCommand() *cobra.Command {
	g := &globals{}
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
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logging.New(g.logLevel)
			if err != nil {
				return err
			}
			g.log = log
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.configPath, "config", "", "cluster file (default "+config.DefaultPath+", else the built-in homelab)")
	f.StringVar(&g.node, "node", "", "this node's name in the cluster file (default: by hostname or local address)")
	f.StringVar(&g.root, "root", "/", "host root that /sys, /dev, /etc and /var are read under (for tests and images)")
	f.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&g.usbRoot, "usb-root", "", "read USB devices under this root instead (test fixtures)")
	_ = f.MarkHidden("root")
	_ = f.MarkHidden("usb-root")
	root.AddCommand(
		newPlanCommand(g),
		newValidateCommand(g),
		newConfigCommand(g),
		newVersionCommand(),
		newJoinCommand(g),
		newRunCommand(g),
		newTokenCommand(g),
		newStatusCommand(g),
		newDoctorCommand(g),
	)
	return root
}

// loadCluster reads --config, else the default path if it exists, else the
// built-in homelab.
func (g *globals) loadCluster() (*config.File, error) {
	path, err := g.configFilePath()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// configFilePath is the absolute path of the cluster file in use, or "" for
// the built-in one.
func (g *globals) configFilePath() (string, error) {
	if g.configPath != "" {
		return filepath.Abs(g.configPath)
	}
	path := g.hostRoot().Path(config.DefaultPath)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading cluster file: %w", err)
	}
	return "", nil
}

func (g *globals) hostRoot() host.Root { return host.NewRoot(g.root) }
