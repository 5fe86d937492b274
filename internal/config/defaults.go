package config

import "time"

// Defaults of fields a cluster file may omit.
const (
	DefaultReleaseBase = "https://github.com/k3s-io/k3s/releases/download"
	DefaultTokenFile   = "/etc/nodeagent/token"
	// DefaultAgentTokenFile holds the agent-only token (k3s's agent-token).
	DefaultAgentTokenFile = "/etc/nodeagent/agent-token"
	DefaultClusterCIDR    = "10.42.0.0/16"
	DefaultServiceCIDR    = "10.43.0.0/16"
	DefaultClusterDNS     = "10.43.0.10"
	DefaultClusterDomain  = "cluster.local"
	DefaultOverlayDir     = "/etc/nodeagent/manifests.d"
	// DefaultMetricsListen is on loopback: the metrics stay on the node
	// unless the cluster file says otherwise.
	DefaultMetricsListen = "127.0.0.1:9469"
)

func (f *File) applyDefaults() {
	c := &f.Cluster
	k := &c.K3s
	setString(&k.ReleaseBase, DefaultReleaseBase)
	setString(&k.TokenFile, DefaultTokenFile)
	setString(&k.AgentTokenFile, DefaultAgentTokenFile)
	if k.Disable == nil {
		k.Disable = []string{"servicelb", "traefik"}
	}
	setString(&k.ClusterCIDR, DefaultClusterCIDR)
	setString(&k.ServiceCIDR, DefaultServiceCIDR)
	setString(&k.ClusterDNS, DefaultClusterDNS)
	setString(&k.ClusterDomain, DefaultClusterDomain)
	setString(&k.FlannelBackend, "vxlan")
	setString(&k.EtcdSnapshots.Schedule, "0 */12 * * *")
	if k.EtcdSnapshots.Retention == 0 {
		k.EtcdSnapshots.Retention = 5
	}
	setDuration(&k.JoinTimeout, 15*time.Minute)
	setDuration(&k.UpgradeTimeout, 5*time.Minute)

	setString(&c.Network.Interface, "eth0")
	for i := range c.Nodes {
		n := &c.Nodes[i]
		setString(&n.Role, RoleServer)
		setString(&n.Arch, "arm64")
		for j := range n.Disks {
			d := &n.Disks[j]
			setString(&d.FSType, "ext4")
			setString(&d.Format, FormatNever)
			setDuration(&d.DeviceTimeout, 90*time.Second)
			for k := range d.Directories {
				setString(&d.Directories[k].Mode, "0755")
			}
		}
	}

	setDuration(&c.USB.Debounce, 500*time.Millisecond)
	setDuration(&c.USB.Resync, 10*time.Minute)

	fw := &c.Firewall
	if fw.SSHSources == nil && c.Network.LANCIDR != "" {
		fw.SSHSources = []string{c.Network.LANCIDR}
	}
	if fw.SSHPort == 0 {
		fw.SSHPort = 22
	}
	setString(&fw.IfMissing, "error")
	for i := range fw.ExtraRules {
		setString(&fw.ExtraRules[i].Proto, "tcp")
		setString(&fw.ExtraRules[i].From, c.Network.LANCIDR)
	}

	setString(&c.Preflight.TimeSync, TimeSyncWait)
	setDuration(&c.Preflight.TimeSyncTimeout, 10*time.Minute)
	setString(&c.Preflight.Reboot, RebootUntilJoined)
	setDuration(&c.Apply.QuorumTimeout, 30*time.Minute)
	setDuration(&c.Apply.NodesTimeout, 5*time.Minute)
	setString(&c.Apply.OverlayDir, DefaultOverlayDir)
	if c.Metrics.Listen == nil {
		c.Metrics.Listen = new(DefaultMetricsListen)
	}
	setString(&c.DNS.LocalDomain, DefaultLocalDomain)
	if c.DNS.Upstreams == nil {
		c.DNS.Upstreams = append([]string(nil), DefaultUpstreams...)
	}
	pl := &c.Platform
	setHelm(&pl.MetalLB, "metallb", "https://metallb.github.io/metallb", "0.15.2", "metallb-system")
	setHelm(&pl.CertManager.HelmComponent, "cert-manager", "https://charts.jetstack.io", "v1.18.2", "cert-manager")
	setHelm(&pl.SealedSecrets, "sealed-secrets", "https://bitnami-labs.github.io/sealed-secrets", "2.17.3", "kube-system")
	setString(&pl.CertManager.Issuer.Type, IssuerCA)
	if pl.CertManager.Issuer.Type == IssuerCA {
		setString(&pl.CertManager.Issuer.CASecretName, "homelab-ca")
	}
	c.applyProxyDefaults()
}

// setHelm fills the chart coordinates the defaults were tested with.
func setHelm(h *HelmComponent, chart, repo, version, namespace string) {
	setString(&h.Chart, chart)
	setString(&h.Repo, repo)
	setString(&h.Version, version)
	setString(&h.Namespace, namespace)
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDuration(p *Duration, v time.Duration) {
	if p.Duration == 0 {
		p.Duration = v
	}
}
