package k3s

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// ConfigPath is the file k3s reads its flags from; keys are the flag names
// (https://docs.k3s.io/installation/configuration#configuration-file).
const ConfigPath = "/etc/rancher/k3s/config.yaml"

const configHeader = "# Written by nodeagent from the cluster file; local edits are overwritten.\n"

// UndecidedJoin is the value of server in a plan made without network.
const UndecidedJoin = "<decided at join>"

// RenderConfig renders config.yaml for node n, joining as j says
// (DecideJoin: through a server that has the cluster, or cluster-init). It
// is pure and deterministic: the same inputs give the same bytes, so an
// unchanged node is not rewritten and k3s is not restarted.
//
// A server gets `token` (the server token) and `agent-token`; an agent gets
// only the agent token as its `token`, whatever t.Server holds: with it k3s
// lets the node join as an agent but refuses it the cluster's CA keys
// (/v1-k3s/server-bootstrap is for the "server" user only,
// k3s pkg/server/handlers/router.go).
func RenderConfig(c *config.Cluster, n config.Node, t Tokens, j Join) ([]byte, error) {
	token, agentToken, err := renderedTokens(n, t)
	if err != nil {
		return nil, fmt.Errorf("rendering k3s config for %s: %w", n.Name, err)
	}
	if len(c.Servers()) == 0 {
		return nil, fmt.Errorf("rendering k3s config for %s: the cluster has no server", n.Name)
	}
	server := n.Role == config.RoleServer
	m := &orderedMap{}
	switch {
	case j.Undecided:
		m.add("server", UndecidedJoin)
	case j.ClusterInit && server:
		// Ignored by k3s once etcd data exists, so it is safe to keep.
		m.add("cluster-init", true)
	case j.Server != "":
		m.add("server", j.Server)
	default:
		return nil, fmt.Errorf("rendering k3s config for %s: no server to join through", n.Name)
	}
	m.add("token", token)
	m.addNonEmpty("agent-token", agentToken)
	m.add("node-name", n.Name)
	m.add("node-ip", n.Address)
	if server {
		m.add("advertise-address", n.Address)
	}
	m.addNonEmpty("flannel-iface", c.Network.Interface)
	if server {
		renderServerNetwork(m, c)
	}
	m.addList("node-label", nodeLabels(n))
	m.addList("node-taint", n.Taints)
	if server {
		renderServerOptions(m, c)
		renderEtcdS3(m, c.K3s.EtcdSnapshots.S3, t.S3)
	}
	return m.encode()
}

// renderedTokens are the values of `token` and `agent-token` for node n.
// k3s takes agent-token as the bare password of its "node" user
// (pkg/daemons/control/deps/deps.go, genUsers), so a pinned agent token
// ("K10<CA hash>::node:<secret>") is rendered as its secret on servers and
// whole on agents, which verify the CA with it.
// A server of a cluster without agents may have no agent token: it then
// renders none (ReadTokens decides when one is needed).
func renderedTokens(n config.Node, t Tokens) (token, agentToken string, err error) {
	if n.Role != config.RoleServer {
		if t.Agent == "" {
			return "", "", errors.New("empty agent token")
		}
		return t.Agent, "", nil
	}
	if t.Server == "" {
		return "", "", errors.New("empty server token")
	}
	if t.Agent == "" {
		return t.Server, "", nil
	}
	secret, err := tokenSecretFor(t.Agent, agentTokenUser)
	if err != nil {
		return "", "", fmt.Errorf("agent token: %w", err)
	}
	return t.Server, secret, nil
}

// renderServerNetwork adds the values that must match on every server
// (https://docs.k3s.io/cli/server#critical-configuration-values).
func renderServerNetwork(m *orderedMap, c *config.Cluster) {
	k := c.K3s
	m.addNonEmpty("flannel-backend", k.FlannelBackend)
	m.addList("tls-san", tlsSANs(c))
	m.addList("disable", k.Disable)
	m.addNonEmpty("cluster-cidr", k.ClusterCIDR)
	m.addNonEmpty("service-cidr", k.ServiceCIDR)
	m.addNonEmpty("cluster-dns", k.ClusterDNS)
	m.addNonEmpty("cluster-domain", k.ClusterDomain)
}

func renderServerOptions(m *orderedMap, c *config.Cluster) {
	k := c.K3s
	if k.SecretsEncryption {
		m.add("secrets-encryption", true)
	}
	// The admin kubeconfig holds cluster-admin credentials: root only.
	m.add("write-kubeconfig-mode", "0600")
	m.addNonEmpty("etcd-snapshot-schedule-cron", k.EtcdSnapshots.Schedule)
	if k.EtcdSnapshots.Retention > 0 {
		m.add("etcd-snapshot-retention", k.EtcdSnapshots.Retention)
	}
}

// tlsSANs lists every server's address and name, so the API certificate is
// valid whichever server a client (or a joining node) talks to.
func tlsSANs(c *config.Cluster) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range c.Servers() {
		for _, v := range []string{s.Address, s.Name} {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// nodeLabels are the static labels of the cluster file, sorted. Labels that
// follow hardware (zigbee, storage) are not here: k3s never removes a
// node-label, so nodeagent reconciles those through the API.
func nodeLabels(n config.Node) []string {
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+n.Labels[k])
	}
	return out
}

// WriteConfig writes the rendered config (mode 0600: it holds the token)
// only when its bytes differ, and reports whether k3s must restart.
func WriteConfig(root host.Root, data []byte) (changed bool, err error) {
	changed, err = host.WriteFileAtomic(root.Path(ConfigPath), data, 0o600)
	if err != nil {
		return false, fmt.Errorf("writing k3s config: %w", err)
	}
	return changed, nil
}

// configUpToDate reports whether config.yaml holds data with WriteConfig's
// mode, that is whether WriteConfig would write nothing.
func configUpToDate(root host.Root, data []byte) (bool, error) {
	p := root.Path(ConfigPath)
	old, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading k3s config: %w", err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return false, fmt.Errorf("reading k3s config: %w", err)
	}
	return bytes.Equal(old, data) && st.Mode().Perm() == 0o600, nil
}

// orderedMap builds a YAML mapping in insertion order; yaml.Node.Encode
// quotes values that would otherwise change type ("0600" stays a string).
type orderedMap struct {
	node yaml.Node
	err  error
}

func (m *orderedMap) add(key string, v any) {
	if m.err != nil {
		return
	}
	var val yaml.Node
	if err := val.Encode(v); err != nil {
		m.err = fmt.Errorf("encoding %s: %w", key, err)
		return
	}
	if val.Kind == yaml.SequenceNode {
		val.Style = 0
	}
	m.node.Content = append(m.node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &val)
}

func (m *orderedMap) addNonEmpty(key, v string) {
	if v != "" {
		m.add(key, v)
	}
}

func (m *orderedMap) addList(key string, v []string) {
	if len(v) > 0 {
		m.add(key, v)
	}
}

func (m *orderedMap) encode() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	m.node.Kind = yaml.MappingNode
	var buf bytes.Buffer
	buf.WriteString(configHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&m.node); err != nil {
		return nil, fmt.Errorf("encoding k3s config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding k3s config: %w", err)
	}
	return buf.Bytes(), nil
}
