package config

// USB configures device detection. Rules are matched on every node.
type USB struct {
	BuiltinCatalog *bool     `yaml:"builtinCatalog" json:"builtinCatalog"`
	Rules          []USBRule `yaml:"rules" json:"rules,omitempty"`
	// Debounce is the hold-off after a published change: further changes
	// wait until it passes with no event, so a flapping device costs one
	// more Node write. It is not a wait before the first change, which is
	// published once the device has arrived, or after Debounce at the
	// latest when it never completes (no by-id link, no driver).
	Debounce Duration `yaml:"debounce" json:"debounce"`
	// Resync rescans on a timer in case an event was missed.
	Resync Duration `yaml:"resync" json:"resync"`
}

// USBRule labels a node while any of its matches is plugged in.
type USBRule struct {
	Name        string            `yaml:"name" json:"name"`
	Match       []USBMatch        `yaml:"match" json:"match"`
	Labels      map[string]string `yaml:"labels" json:"labels"`
	Annotations map[string]string `yaml:"annotations" json:"annotations,omitempty"`
}

// USBMatch identifies a device: ids in hex, and optional shell globs on the
// strings the device reports (needed for ids that plain cables share).
type USBMatch struct {
	Description  string `yaml:"description" json:"description,omitempty"`
	VendorID     string `yaml:"vendorID" json:"vendorID"`
	ProductID    string `yaml:"productID" json:"productID"`
	Manufacturer string `yaml:"manufacturer" json:"manufacturer,omitempty"`
	Product      string `yaml:"product" json:"product,omitempty"`
	Serial       string `yaml:"serial" json:"serial,omitempty"`
}

// Firewall configures UFW.
type Firewall struct {
	Enabled    *bool          `yaml:"enabled" json:"enabled"`
	SSHSources []string       `yaml:"sshSources" json:"sshSources"`
	SSHPort    int            `yaml:"sshPort" json:"sshPort"`
	IfMissing  string         `yaml:"ifMissing" json:"ifMissing"`
	ExtraRules []FirewallRule `yaml:"extraRules" json:"extraRules,omitempty"`
}

// IsEnabled reports whether nodeagent manages UFW (the default).
func (f Firewall) IsEnabled() bool { return f.Enabled == nil || *f.Enabled }

// FirewallRule is a user rule: allow Proto traffic to Port from From.
type FirewallRule struct {
	// Port is a number or a "low:high" range.
	Port    string `yaml:"port" json:"port"`
	Proto   string `yaml:"proto" json:"proto"`
	From    string `yaml:"from" json:"from"`
	Comment string `yaml:"comment" json:"comment,omitempty"`
}

// Apply configures the quorum gate and the manifest applier.
type Apply struct {
	QuorumTimeout Duration `yaml:"quorumTimeout" json:"quorumTimeout"`
	// NodesTimeout bounds how long an apply that creates workloads waits
	// for the nodes their pods are placed on (internal/serverwork).
	NodesTimeout   Duration `yaml:"nodesTimeout" json:"nodesTimeout"`
	OverlayDir     string   `yaml:"overlayDir" json:"overlayDir"`
	ForceConflicts []string `yaml:"forceConflicts" json:"forceConflicts,omitempty"`
}

// Platform is the cluster's infrastructure, installed as k3s HelmCharts.
type Platform struct {
	MetalLB       HelmComponent `yaml:"metallb" json:"metallb"`
	CertManager   CertManager   `yaml:"certManager" json:"certManager"`
	SealedSecrets HelmComponent `yaml:"sealedSecrets" json:"sealedSecrets"`
}

// HelmComponent is one chart installed through k3s's helm controller.
type HelmComponent struct {
	Enabled   *bool          `yaml:"enabled" json:"enabled"`
	Chart     string         `yaml:"chart" json:"chart"`
	Repo      string         `yaml:"repo" json:"repo"`
	Version   string         `yaml:"version" json:"version"`
	Namespace string         `yaml:"namespace" json:"namespace"`
	Values    map[string]any `yaml:"values" json:"values,omitempty"`
	// ChartFile is the chart's .tgz on the servers (absolute path, root's
	// files only): the HelmChart then carries it (chartContent) and repo
	// is not used, for clusters without a route to the chart repository.
	ChartFile string `yaml:"chartFile" json:"chartFile,omitempty"`
}

// IsEnabled reports whether the component is installed (the default).
func (h HelmComponent) IsEnabled() bool { return h.Enabled == nil || *h.Enabled }

// CertManager adds the cluster issuer to the chart.
type CertManager struct {
	HelmComponent `yaml:",inline" json:",inline"`
	Issuer        Issuer `yaml:"issuer" json:"issuer"`
}

// Issuer types.
const (
	IssuerCA          = "ca"
	IssuerLetsEncrypt = "letsencrypt"
)

// Issuer is the ClusterIssuer: a CA from a Secret, or Let's Encrypt.
type Issuer struct {
	Type         string `yaml:"type" json:"type"`
	CASecretName string `yaml:"caSecretName" json:"caSecretName,omitempty"`
	Email        string `yaml:"email" json:"email,omitempty"`
	Server       string `yaml:"server" json:"server,omitempty"`
}

// Workload is one application of the homelab. The name (its key in the
// workloads map) selects how it is rendered; these fields tune it.
type Workload struct {
	Enabled  *bool  `yaml:"enabled" json:"enabled"`
	Image    string `yaml:"image" json:"image"`
	Replicas int    `yaml:"replicas" json:"replicas,omitempty"`
	// Resources are requests; limits are derived by the renderer.
	Resources Capacity `yaml:"resources" json:"resources"`
	// Require is HARD placement: node labels that must match.
	Require map[string]string `yaml:"require" json:"require,omitempty"`
	// Prefer is SOFT placement: nodes in order of preference.
	Prefer []string `yaml:"prefer" json:"prefer,omitempty"`
	// Storage is the size of the local-path volume of a workload that keeps
	// state (one per replica for StatefulSets); empty takes the app's default.
	Storage    string            `yaml:"storage" json:"storage,omitempty"`
	Schedule   string            `yaml:"schedule" json:"schedule,omitempty"`
	SecretName string            `yaml:"secretName" json:"secretName,omitempty"`
	Retention  *Retention        `yaml:"retention" json:"retention,omitempty"`
	Env        map[string]string `yaml:"env" json:"env,omitempty"`
}

// IsEnabled reports whether the workload is rendered (the default).
func (w Workload) IsEnabled() bool { return w.Enabled == nil || *w.Enabled }

// Retention is restic's forget policy.
type Retention struct {
	Last    int `yaml:"last" json:"last"`
	Daily   int `yaml:"daily" json:"daily"`
	Weekly  int `yaml:"weekly" json:"weekly"`
	Monthly int `yaml:"monthly" json:"monthly"`
}

// PlatformChart is one chart of the platform with its place in the file.
type PlatformChart struct {
	// Field is its path in the cluster file, as errors name it
	// ("platform.metallb").
	Field string
	HelmComponent
}

// Charts lists the platform's charts, enabled or not, in a fixed order.
func (p Platform) Charts() []PlatformChart {
	return []PlatformChart{
		{"platform.metallb", p.MetalLB},
		{"platform.certManager", p.CertManager.HelmComponent},
		{"platform.sealedSecrets", p.SealedSecrets},
	}
}
