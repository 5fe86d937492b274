package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// config is the part of /etc/rancher/k3s/config.yaml the stand-in reads.
// Unknown keys (flannel-backend, disable, ...) are ignored, as they
// configure parts of k3s the stand-in does not have.
type config struct {
	ClusterInit         bool       `json:"cluster-init"`
	Server              string     `json:"server"`
	Token               string     `json:"token"`
	TokenFile           string     `json:"token-file"`
	AgentToken          string     `json:"agent-token"`
	AgentTokenFile      string     `json:"agent-token-file"`
	NodeName            string     `json:"node-name"`
	NodeIP              string     `json:"node-ip"`
	AdvertiseAddress    string     `json:"advertise-address"`
	TLSSAN              stringList `json:"tls-san"`
	ServiceCIDR         string     `json:"service-cidr"`
	ClusterDomain       string     `json:"cluster-domain"`
	NodeLabel           stringList `json:"node-label"`
	NodeTaint           stringList `json:"node-taint"`
	WriteKubeconfigMode string     `json:"write-kubeconfig-mode"`
	ClusterCIDR         string     `json:"cluster-cidr"`

	// Extra flags of the embedded components, "flag=value" entries
	// merged over k3s's own (extraargs.go).
	KubeAPIServerArg         stringList `json:"kube-apiserver-arg"`
	KubeControllerManagerArg stringList `json:"kube-controller-manager-arg"`
	KubeSchedulerArg         stringList `json:"kube-scheduler-arg"`
	KubeletArg               stringList `json:"kubelet-arg"`

	// etcd snapshots (pkg/cli/cmds/server.go flag names and defaults,
	// filled in by complete()).
	EtcdSnapshotDir       string `json:"etcd-snapshot-dir"`
	EtcdSnapshotRetention *int   `json:"etcd-snapshot-retention"`
	EtcdDisableSnapshots  bool   `json:"etcd-disable-snapshots"`
	EtcdSnapshotCron      string `json:"etcd-snapshot-schedule-cron"`
	EtcdSnapshotName      string `json:"etcd-snapshot-name"`
	EtcdSnapshotCompress  bool   `json:"etcd-snapshot-compress"`
	// `k3s etcd-snapshot` only (pkg/cli/cmds/etcd_snapshot.go): the
	// supervisor to ask and the token to ask with.
	EtcdServer string `json:"etcd-server"`
	EtcdToken  string `json:"etcd-token"`

	// s3Keys are the etcd-s3* keys present (names only: their values may
	// be secrets and are never logged).
	s3Keys []string
}

// Defaults of k3s's etcd snapshot flags (pkg/cli/cmds/server.go).
const (
	defaultSnapshotRetention = 5
	defaultSnapshotCron      = "0 */12 * * *"
	defaultSnapshotName      = "etcd-snapshot"
)

// stringList accepts a YAML list or a single string, as k3s does for its
// repeatable flags.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = strings.Split(one, ",")
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// decodeConfig reads config.yaml and its drop-ins into T, and returns the
// merged keys too.
func decodeConfig[T any](p paths) (*T, map[string]any, error) {
	merged, err := readConfigFiles(p.configFile)
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding merged config: %w", err)
	}
	var c T
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", p.configFile, err)
	}
	return &c, merged, nil
}

func loadConfig(p paths) (*config, error) {
	c, merged, err := decodeConfig[config](p)
	if err != nil {
		return nil, err
	}
	for k := range merged {
		if strings.HasPrefix(k, "etcd-s3") {
			c.s3Keys = append(c.s3Keys, k)
		}
	}
	slices.Sort(c.s3Keys)
	if c.Token == "" && c.TokenFile != "" {
		tok, err := os.ReadFile(p.rooted(c.TokenFile))
		if err != nil {
			return nil, fmt.Errorf("reading token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(tok))
	}
	if c.AgentToken == "" && c.AgentTokenFile != "" {
		tok, err := os.ReadFile(p.rooted(c.AgentTokenFile))
		if err != nil {
			return nil, fmt.Errorf("reading agent-token-file: %w", err)
		}
		c.AgentToken = strings.TrimSpace(string(tok))
	}
	return c, c.complete()
}

// readConfigFiles reads config.yaml and then the config.yaml.d drop-ins
// ending in .yaml or .yml (any case) in name order, as k3s's
// pkg/configfilearg does: a later file's key replaces an earlier value, a
// key ending in "+" appends to it; config.yaml may be missing when a
// drop-in exists.
func readConfigFiles(file string) (map[string]any, error) {
	var files []string
	if _, err := os.Stat(file); err == nil {
		files = append(files, file)
	}
	entries, err := os.ReadDir(file + ".d")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s.d: %w", file, err)
	}
	for _, e := range entries { // sorted by name
		lower := strings.ToLower(e.Name())
		if !e.IsDir() && (strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml")) {
			files = append(files, filepath.Join(file+".d", e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("reading %s: no config file or drop-in", file)
	}
	merged := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", f, err)
		}
		for k, v := range m {
			if base, ok := strings.CutSuffix(k, "+"); ok {
				merged[base] = appendValues(merged[base], v)
				continue
			}
			merged[k] = v
		}
	}
	return merged, nil
}

func appendValues(prev, more any) any {
	list := func(v any) []any {
		switch t := v.(type) {
		case nil:
			return nil
		case []any:
			return t
		default:
			return []any{t}
		}
	}
	return append(list(prev), list(more)...)
}

func (c *config) complete() error {
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node-name unset and no hostname: %w", err)
		}
		c.NodeName = h
	}
	if net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("node-ip %q: the stand-in needs an explicit IP address", c.NodeIP)
	}
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = c.NodeIP
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.43.0.0/16" // k3s default
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = DefaultClusterCIDR
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.EtcdSnapshotRetention == nil {
		r := defaultSnapshotRetention
		c.EtcdSnapshotRetention = &r
	}
	if c.EtcdSnapshotCron == "" {
		c.EtcdSnapshotCron = defaultSnapshotCron
	}
	if c.EtcdSnapshotName == "" {
		c.EtcdSnapshotName = defaultSnapshotName
	}
	if c.Token == "" {
		// k3s generates a token for a cluster-init server; joining needs
		// one, and the stand-in has no use for a generated one.
		return fmt.Errorf("token (or token-file) is required")
	}
	if _, err := parseToken(c.Token); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if !c.ClusterInit && c.Server == "" {
		// k3s without either runs on SQLite through kine
		// (pkg/cluster/managed.go assignManagedDriver picks no managed
		// etcd), which no other server can join. The stand-in has no kine;
		// it refuses rather than start an etcd that k3s would not.
		return fmt.Errorf("neither cluster-init nor server is set: k3s would run on SQLite (kine), which the stand-in does not have")
	}
	return nil
}

// kubeconfigMode parses write-kubeconfig-mode ("0644", "644"); k3s's default
// is 0600.
func (c *config) kubeconfigMode() (os.FileMode, error) {
	if c.WriteKubeconfigMode == "" {
		return 0o600, nil
	}
	m, err := strconv.ParseUint(c.WriteKubeconfigMode, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("write-kubeconfig-mode %q: %w", c.WriteKubeconfigMode, err)
	}
	return os.FileMode(m), nil
}

// env is how a local test relocates the stand-in; systemd sets neither.
type env struct {
	// root prefixes every host path (K3S_STANDIN_ROOT, default "/").
	root string
	// local replaces 127.0.0.1 for the node-local listeners
	// (K3S_STANDIN_LOCAL_ADDRESS), so that several instances can share one
	// host's loopback in a test.
	local string
}

func envFromOS() env {
	e := env{root: os.Getenv("K3S_STANDIN_ROOT"), local: os.Getenv("K3S_STANDIN_LOCAL_ADDRESS")}
	if e.root == "" {
		e.root = "/"
	}
	if e.local == "" {
		e.local = "127.0.0.1"
	}
	return e
}

// paths are k3s's real file locations below env.root.
type paths struct {
	root       string
	configFile string
	kubeconfig string
	server     string // /var/lib/rancher/k3s/server
	tls        string
	etcdTLS    string
	etcdData   string
	db         string // server/db
	etcdName   string // server/db/etcd/name: the member name, written before the join
	snapshots  string // server/db/snapshots: the default etcd-snapshot-dir
	resetFlag  string // server/db/reset-flag: written by a cluster reset
	tokenFile  string // server/token
	agentToken string // server/agent-token
	agent      string // /var/lib/rancher/k3s/agent: an agent's certificates and kubeconfigs
	cred       string // server/cred: the control-plane components' kubeconfigs
	kubelet    string // agent/kubelet: the kubelet's root dir
	podLogs    string // /var/log/pods
	capacity   string // the TEST-ONLY capacity.yaml (capacity.go)
	storage    string // /var/lib/rancher/k3s/storage: local-path's volumes
	nodePass   string // /etc/rancher/node/password: an agent's node password
}

func (e env) paths() paths {
	r := func(p string) string { return filepath.Join(e.root, p) }
	server := r("/var/lib/rancher/k3s/server")
	return paths{
		root:       e.root,
		configFile: r("/etc/rancher/k3s/config.yaml"),
		kubeconfig: r("/etc/rancher/k3s/k3s.yaml"),
		server:     server,
		tls:        filepath.Join(server, "tls"),
		etcdTLS:    filepath.Join(server, "tls", "etcd"),
		etcdData:   filepath.Join(server, "db", "etcd"),
		db:         filepath.Join(server, "db"),
		etcdName:   filepath.Join(server, "db", "etcd", "name"),
		snapshots:  filepath.Join(server, "db", "snapshots"),
		resetFlag:  filepath.Join(server, "db", "reset-flag"),
		tokenFile:  filepath.Join(server, "token"),
		agentToken: filepath.Join(server, "agent-token"),
		agent:      r("/var/lib/rancher/k3s/agent"),
		cred:       filepath.Join(server, "cred"),
		kubelet:    r("/var/lib/rancher/k3s/agent/kubelet"),
		podLogs:    r("/var/log/pods"),
		capacity:   r(capacityFile),
		storage:    "/var/lib/rancher/k3s/storage",
		nodePass:   r("/etc/rancher/node/password"),
	}
}

func (p paths) rooted(abs string) string { return filepath.Join(p.root, abs) }
