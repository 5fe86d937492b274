package k3s

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// EtcdMemberMarker is k3s's own "initialised" marker: etcd's write-ahead log
// directory exists once this server started or joined an etcd cluster
// (pkg/etcd/etcd.go, IsInitialized checks member/wal). k3s writes
// server/db/etcd/name before it joins, so the db/etcd directory alone proves
// nothing: a join that failed leaves it behind.
const EtcdMemberMarker = "/var/lib/rancher/k3s/server/db/etcd/member/wal"

// EtcdNameFile holds the etcd member name k3s chose for this server
// ("<node>-<8 hex>"), written before it first joins (pkg/etcd/etcd.go
// setName); a k3s whose join stopped half-way rejoins under that name.
const EtcdNameFile = "/var/lib/rancher/k3s/server/db/etcd/name"

// EtcdName is the member name k3s chose here, "" when it has not chosen one.
func EtcdName(root host.Root) string {
	data, err := os.ReadFile(root.Path(EtcdNameFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// AgentMarker is the node password a k3s agent writes when it first
// registers with a server.
const AgentMarker = "/etc/rancher/node/password"

// IsEtcdMember reports whether the server under root is an etcd member: from
// then on k3s ignores cluster-init and server and restarts from its data.
func IsEtcdMember(root host.Root) bool {
	_, err := os.Stat(root.Path(EtcdMemberMarker))
	return err == nil
}

// HasJoined reports whether k3s on a node of this role has joined before:
// an etcd member for a server, a registered agent for an agent.
func HasJoined(root host.Root, role string) bool {
	if role == config.RoleServer {
		return IsEtcdMember(root)
	}
	_, err := os.Stat(root.Path(AgentMarker))
	return err == nil
}

// installedJoin returns the join keys of the installed config.yaml when they
// still name a configured server (or cluster-init). A node that has joined
// keeps them: k3s ignores them once etcd data exists, and rewriting them
// would restart k3s for nothing.
func installedJoin(root host.Root, c *config.Cluster) (Join, bool, error) {
	data, err := os.ReadFile(root.Path(ConfigPath))
	if errors.Is(err, fs.ErrNotExist) {
		return Join{}, false, nil
	}
	if err != nil {
		return Join{}, false, fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	var keys struct {
		Server      string `yaml:"server"`
		ClusterInit bool   `yaml:"cluster-init"`
	}
	if yaml.Unmarshal(data, &keys) != nil {
		return Join{}, false, nil
	}
	for _, s := range c.Servers() {
		if keys.Server != "" && keys.Server == SupervisorURL(s.Address) {
			return Join{Server: keys.Server}, true, nil
		}
	}
	if keys.Server == "" && keys.ClusterInit {
		return Join{ClusterInit: true}, true, nil
	}
	return Join{}, false, nil
}

// keptJoin is the join of a node that has joined: the installed keys, else
// the config order; ok is false for a node that has not joined.
func keptJoin(root host.Root, c *config.Cluster, n config.Node) (j Join, ok bool, err error) {
	if !HasJoined(root, n.Role) {
		return Join{}, false, nil
	}
	j, ok, err = installedJoin(root, c)
	if err != nil {
		return Join{}, false, err
	}
	if !ok {
		j = orderJoin(c, n)
	}
	return j, true, nil
}

// orderJoin is the join in config order, for a joined node whose
// config.yaml is gone: the first server cluster-init, the others through it.
// k3s ignores both once it has joined.
func orderJoin(c *config.Cluster, n config.Node) Join {
	first, _ := c.FirstServer()
	if n.Role == config.RoleServer && first.Name == n.Name {
		return Join{ClusterInit: true}
	}
	return Join{Server: SupervisorURL(first.Address)}
}

// ServerCAPath is the cluster CA a server serves on /cacerts
// (pkg/server/handlers/router.go reads the runtime's ServerCA file;
// pkg/daemons/control/deps/deps.go names it tls/server-ca.crt).
const ServerCAPath = "/var/lib/rancher/k3s/server/tls/server-ca.crt"

// ClusterCAHash is the hash of the CA this server serves on /cacerts, the
// one a pinned token names; ok is false when k3s has not written it.
func ClusterCAHash(root host.Root) (hash string, ok bool, err error) {
	data, err := os.ReadFile(root.Path(ServerCAPath))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the cluster CA: %w", err)
	}
	return CAHash(data), true, nil
}
