// Package config defines the cluster file: one declarative description of the
// whole cluster, identical on every node, with strict decoding, validation that
// names file, line and field, and the built-in homelab default.
package config

import "time"

// APIVersion and Kind identify the cluster file format.
const (
	APIVersion = "nodeagent.dev/v1alpha1"
	Kind       = "Cluster"
)

// Cluster is the root of the cluster file.
type Cluster struct {
	APIVersion string              `yaml:"apiVersion" json:"apiVersion"`
	Kind       string              `yaml:"kind" json:"kind"`
	Metadata   Metadata            `yaml:"metadata" json:"metadata"`
	K3s        K3s                 `yaml:"k3s" json:"k3s"`
	Network    Network             `yaml:"network" json:"network"`
	Nodes      []Node              `yaml:"nodes" json:"nodes"`
	USB        USB                 `yaml:"usb" json:"usb"`
	Firewall   Firewall            `yaml:"firewall" json:"firewall"`
	Preflight  Preflight           `yaml:"preflight" json:"preflight"`
	Apply      Apply               `yaml:"apply" json:"apply"`
	Metrics    Metrics             `yaml:"metrics" json:"metrics"`
	Platform   Platform            `yaml:"platform" json:"platform"`
	DNS        DNS                 `yaml:"dns" json:"dns"`
	Workloads  map[string]Workload `yaml:"workloads" json:"workloads"`
	Proxy      Proxy               `yaml:"proxy" json:"proxy"`
	Backups    Backups             `yaml:"backups" json:"backups"`
}

// Backups is where the copies that must outlive the SD cards go: a
// directory on one server's data disk. The etcd snapshot copies and the
// sealed-secrets keys are written there, and only while that disk is
// mounted (never to the SD card under an empty mount point). Both fields
// empty: no backups.
type Backups struct {
	// Node is the server whose disk holds Dir.
	Node string `yaml:"node" json:"node,omitempty"`
	// Dir is an absolute path under one of that node's disks' mountPoint.
	Dir string `yaml:"dir" json:"dir,omitempty"`
}

// Enabled reports whether the cluster file names a backup directory.
func (b Backups) Enabled() bool { return b.Node != "" || b.Dir != "" }

// Time sync policies.
const (
	TimeSyncWait = "wait"
	TimeSyncWarn = "warn"
)

// Preflight tunes the checks before k3s starts.
type Preflight struct {
	// TimeSync is "wait" (default: no TLS before the clock is synchronised,
	// the Pi has no RTC) or "warn" (for networks without NTP).
	TimeSync        string   `yaml:"timeSync" json:"timeSync"`
	TimeSyncTimeout Duration `yaml:"timeSyncTimeout" json:"timeSyncTimeout"`
	// Reboot says what the daemon does when the kernel command line had to
	// change: "auto" reboots once, "manual" waits for someone to reboot,
	// "untilJoined" (default) is auto on a node that has not joined yet and
	// manual once it has (a member runs workloads a reboot would interrupt).
	Reboot string `yaml:"reboot" json:"reboot"`
}

// Reboot policies.
const (
	RebootAuto        = "auto"
	RebootManual      = "manual"
	RebootUntilJoined = "untilJoined"
)

// Metadata names the cluster.
type Metadata struct {
	Name string `yaml:"name" json:"name"`
}

// K3s holds the cluster-wide k3s settings. Every value here must be the same
// on all servers or a join fails, which the single cluster file guarantees.
type K3s struct {
	Version string `yaml:"version" json:"version"`
	// ReleaseBase is where <version>/k3s-<arch> and its sha256sum file are:
	// an https:// URL, a local directory (absolute path or file://, the
	// air-gap install), or an http:// URL only with SHA256 pinned for every
	// node arch (over plain http the checksum file proves nothing).
	ReleaseBase string `yaml:"releaseBase" json:"releaseBase"`
	// SHA256 pins the binary's hash per arch; it wins over the checksum file.
	SHA256 map[string]string `yaml:"sha256" json:"sha256,omitempty"`
	// TokenFile holds the server token: servers only; it lets its holder
	// fetch the cluster's CA keys (/v1-k3s/server-bootstrap).
	TokenFile string `yaml:"tokenFile" json:"tokenFile"`
	// AgentTokenFile holds the agent token (k3s's agent-token): servers
	// accept it for agent joins only; agents read nothing else.
	AgentTokenFile string   `yaml:"agentTokenFile" json:"agentTokenFile"`
	Disable        []string `yaml:"disable" json:"disable"`
	ClusterCIDR    string   `yaml:"clusterCIDR" json:"clusterCIDR"`
	ServiceCIDR    string   `yaml:"serviceCIDR" json:"serviceCIDR"`
	ClusterDNS     string   `yaml:"clusterDNS" json:"clusterDNS"`
	ClusterDomain  string   `yaml:"clusterDomain" json:"clusterDomain"`
	// FlannelBackend is vxlan (default) or wireguard-native.
	FlannelBackend    string       `yaml:"flannelBackend" json:"flannelBackend"`
	SecretsEncryption bool         `yaml:"secretsEncryption" json:"secretsEncryption"`
	EtcdSnapshots     EtcdSnapshot `yaml:"etcdSnapshots" json:"etcdSnapshots"`
	JoinTimeout       Duration     `yaml:"joinTimeout" json:"joinTimeout"`
	// UpgradeTimeout bounds how long a server upgraded to a new k3s version
	// has, from its restart, to come back (its etcd member healthy, its Node
	// reporting the version) before its previous binary is put back.
	// At most MaxUpgradeTimeout.
	UpgradeTimeout Duration `yaml:"upgradeTimeout" json:"upgradeTimeout"`
	// Registries is rendered to k3s's registries.yaml on every node: image
	// pulls go to the mirrors it names (an air-gapped cluster's own registry).
	Registries Registries `yaml:"registries" json:"registries"`
}

// Registries is k3s's registries.yaml
// (https://docs.k3s.io/installation/private-registry), keys in the cluster
// file's spelling. It holds no credentials: k3s would need them inline.
type Registries struct {
	// Mirrors maps a registry name (docker.io, ghcr.io, or "*" for every
	// registry) to the endpoints containerd pulls its images from.
	Mirrors map[string]RegistryMirror `yaml:"mirrors" json:"mirrors,omitempty"`
	// Configs maps an endpoint's host[:port] to its TLS settings.
	Configs map[string]RegistryConfig `yaml:"configs" json:"configs,omitempty"`
}

// IsZero reports whether no registry is configured: no file is written.
func (r Registries) IsZero() bool { return len(r.Mirrors) == 0 && len(r.Configs) == 0 }

// RegistryMirror lists a registry's endpoints, tried in order; containerd
// falls back to the registry itself last.
type RegistryMirror struct {
	Endpoint []string `yaml:"endpoint" json:"endpoint"`
	// Rewrite maps a regular expression on the image's repository to its
	// replacement, for a mirror that keeps images under other names.
	Rewrite map[string]string `yaml:"rewrite" json:"rewrite,omitempty"`
}

// RegistryConfig is the TLS of one registry endpoint.
type RegistryConfig struct {
	TLS RegistryTLS `yaml:"tls" json:"tls"`
}

// RegistryTLS names files on the node (absolute paths k3s reads as they
// are): the CA that signs the registry's certificate, and a client
// certificate and key for registries that ask for one.
type RegistryTLS struct {
	CAFile             string `yaml:"caFile" json:"caFile,omitempty"`
	CertFile           string `yaml:"certFile" json:"certFile,omitempty"`
	KeyFile            string `yaml:"keyFile" json:"keyFile,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify" json:"insecureSkipVerify,omitempty"`
}

// EtcdSnapshot is k3s's etcd snapshot schedule and retention.
type EtcdSnapshot struct {
	Schedule  string `yaml:"schedule" json:"schedule"`
	Retention int    `yaml:"retention" json:"retention"`
	// S3 is an optional second copy off the SD cards, uploaded by k3s
	// itself (its etcd-s3-* settings); retention applies there too.
	S3 EtcdS3 `yaml:"s3" json:"s3"`
}

// EtcdS3 is S3-compatible storage (Backblaze B2, MinIO, AWS) for the etcd
// snapshots. The credentials are not in the cluster file, which is meant
// to be shared and kept in git, but in CredentialsFile on every server.
type EtcdS3 struct {
	// Endpoint is host[:port], without a scheme (k3s speaks https).
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	Bucket   string `yaml:"bucket" json:"bucket,omitempty"`
	// Folder is the prefix inside the bucket (one cluster per folder).
	Folder string `yaml:"folder" json:"folder,omitempty"`
	Region string `yaml:"region" json:"region,omitempty"`
	// CredentialsFile is a root-only YAML file with accessKey and secretKey.
	CredentialsFile string `yaml:"credentialsFile" json:"credentialsFile,omitempty"`
}

// Enabled reports whether the cluster file configures S3 snapshot copies.
func (s EtcdS3) Enabled() bool { return s != EtcdS3{} }

// Network describes the LAN the nodes live on and the LoadBalancer addresses.
type Network struct {
	LANCIDR            string       `yaml:"lanCIDR" json:"lanCIDR"`
	Interface          string       `yaml:"interface" json:"interface"`
	TailscaleInterface string       `yaml:"tailscaleInterface" json:"tailscaleInterface,omitempty"`
	LoadBalancer       LoadBalancer `yaml:"loadBalancer" json:"loadBalancer"`
}

// LoadBalancer is MetalLB's address pool and the fixed address of each service.
type LoadBalancer struct {
	// Pool entries are CIDRs or "first-last" ranges.
	Pool []string `yaml:"pool" json:"pool"`
	// Addresses maps a workload name to its LoadBalancer IP.
	Addresses map[string]string `yaml:"addresses" json:"addresses"`
}

// Node roles.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Node is one machine of the cluster.
type Node struct {
	Name     string            `yaml:"name" json:"name"`
	Address  string            `yaml:"address" json:"address"`
	Role     string            `yaml:"role" json:"role"`
	Arch     string            `yaml:"arch" json:"arch"`
	Capacity Capacity          `yaml:"capacity" json:"capacity"`
	Labels   map[string]string `yaml:"labels" json:"labels,omitempty"`
	// Taints are k3s node-taint strings: key=value:Effect.
	Taints []string `yaml:"taints" json:"taints,omitempty"`
	Disks  []Disk   `yaml:"disks" json:"disks,omitempty"`
	// USB names the USB rules whose devices are expected on this node. Every
	// node watches every rule, so labels follow a device that moves; this list
	// feeds placement planning and `doctor`.
	USB []string `yaml:"usb" json:"usb,omitempty"`
}

// Capacity is what a node offers to workloads, as Kubernetes quantities.
type Capacity struct {
	Memory string `yaml:"memory" json:"memory"`
	CPU    string `yaml:"cpu" json:"cpu"`
}

// Disk format policies.
const (
	FormatNever   = "never"
	FormatIfBlank = "if-blank"
)

// Disk is a data disk that nodeagent finds and mounts.
type Disk struct {
	MountPoint    string            `yaml:"mountPoint" json:"mountPoint"`
	Selector      DiskSelector      `yaml:"selector" json:"selector"`
	FSType        string            `yaml:"fsType" json:"fsType"`
	Options       []string          `yaml:"options" json:"options,omitempty"`
	Format        string            `yaml:"format" json:"format"`
	DeviceTimeout Duration          `yaml:"deviceTimeout" json:"deviceTimeout"`
	Directories   []Directory       `yaml:"directories" json:"directories,omitempty"`
	Labels        map[string]string `yaml:"labels" json:"labels,omitempty"`
}

// DiskSelector picks a block device; set fields must all match.
type DiskSelector struct {
	UUID     string `yaml:"uuid" json:"uuid,omitempty"`
	Label    string `yaml:"label" json:"label,omitempty"`
	PARTUUID string `yaml:"partuuid" json:"partuuid,omitempty"`
	Serial   string `yaml:"serial" json:"serial,omitempty"`
	Model    string `yaml:"model" json:"model,omitempty"`
}

// IsZero reports whether no field of the selector is set.
func (s DiskSelector) IsZero() bool { return s == DiskSelector{} }

// Directory is kept on a mounted disk with the given owner and mode.
type Directory struct {
	Path  string `yaml:"path" json:"path"`
	Owner int    `yaml:"owner" json:"owner"`
	Group int    `yaml:"group" json:"group"`
	Mode  string `yaml:"mode" json:"mode"`
}

// MaxUpgradeTimeout keeps k3s.upgradeTimeout within the restart Lease's
// duration (10 minutes, internal/serverwork), which a server down after
// its upgrade cannot renew.
const MaxUpgradeTimeout = 9 * time.Minute
