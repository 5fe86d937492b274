package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
)

// agentConfig is the part of config.yaml (and its drop-ins, read as the
// server reads them) that `k3s agent` uses. flannel-iface is accepted and
// ignored (the stand-in has no flannel). As k3s's pkg/configfilearg does for
// a key that is no flag of the command, a server-only key is skipped with a
// warning (serverOnlyKeys), not refused.
type agentConfig struct {
	Server       string     `json:"server"`
	Token        string     `json:"token"`
	TokenFile    string     `json:"token-file"`
	NodeName     string     `json:"node-name"`
	NodeIP       string     `json:"node-ip"`
	NodeLabel    stringList `json:"node-label"`
	NodeTaint    stringList `json:"node-taint"`
	FlannelIface string     `json:"flannel-iface"`
	KubeletArg   stringList `json:"kubelet-arg"`

	// skipped are the server-only keys present, for the warning.
	skipped []string
}

// serverOnlyKeys are flags of `k3s server` that `k3s agent` does not have
// (pkg/cli/cmds/server.go vs agent.go), among those nodeagent writes.
var serverOnlyKeys = []string{
	"cluster-init", "agent-token", "agent-token-file", "advertise-address", "tls-san",
	"service-cidr", "cluster-cidr", "cluster-domain", "write-kubeconfig-mode", "disable",
	"flannel-backend", "secrets-encryption", "etcd-snapshot-dir", "etcd-snapshot-retention",
	"etcd-disable-snapshots", "etcd-snapshot-schedule-cron", "etcd-snapshot-name", "etcd-snapshot-compress",
	"kube-apiserver-arg", "kube-controller-manager-arg", "kube-scheduler-arg",
}

func loadAgentConfig(p paths) (*agentConfig, error) {
	c, merged, err := decodeConfig[agentConfig](p)
	if err != nil {
		return nil, err
	}
	for k := range merged {
		if slices.Contains(serverOnlyKeys, k) || strings.HasPrefix(k, "etcd-s3") {
			c.skipped = append(c.skipped, k)
		}
	}
	slices.Sort(c.skipped)
	if c.Token == "" && c.TokenFile != "" {
		tok, err := os.ReadFile(p.rooted(c.TokenFile))
		if err != nil {
			return nil, fmt.Errorf("reading token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(tok))
	}
	return c, c.complete()
}

// complete applies k3s's agent checks (pkg/cli/agent/agent.go): a server
// URL and a token are required.
func (c *agentConfig) complete() error {
	if c.Server == "" {
		return errors.New("--server is required")
	}
	if c.Token == "" {
		return errors.New("--token is required")
	}
	if _, err := parseToken(c.Token); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node-name unset and no hostname: %w", err)
		}
		c.NodeName = h
	}
	c.NodeName = strings.ToLower(c.NodeName)
	if net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("node-ip %q: the stand-in needs an explicit IP address", c.NodeIP)
	}
	return nil
}

// agentToken is the token as the agent presents it: whatever user the
// token names, the agent asks as "node" (k3s's pkg/agent/run.go validates
// the token with clientaccess.WithUser("node")), so a server token works
// for an agent when the server has no agent-token.
func (c *agentConfig) agentToken() joinToken {
	t, _ := parseToken(c.Token) // validated by complete
	t.username = "node"
	return t
}
