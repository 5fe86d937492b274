package config

import "sort"

// Port is a port a workload's LoadBalancer service exposes.
type Port struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // TCP or UDP
}

// WorkloadKind is how a workload runs.
type WorkloadKind string

// Workload kinds.
const (
	Deployment  WorkloadKind = "Deployment"
	StatefulSet WorkloadKind = "StatefulSet"
	DaemonSet   WorkloadKind = "DaemonSet"
	CronJob     WorkloadKind = "CronJob"
)

// WorkloadSpec is what nodeagent knows about a workload it can render: how it
// runs and which ports its LoadBalancer service exposes (the architecture's
// network table).
type WorkloadSpec struct {
	Kind  WorkloadKind
	Ports []Port
	// HostPorts are served on the node's own address (hostNetwork pods) and
	// must be reachable from the other nodes.
	HostPorts []Port
}

var workloadSpecs = map[string]WorkloadSpec{
	"nginx-proxy-manager": {Kind: StatefulSet, Ports: []Port{
		{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "https", Port: 443, Protocol: "TCP"}, {Name: "admin", Port: 81, Protocol: "TCP"}}},
	"pihole": {Kind: StatefulSet, Ports: []Port{
		{Name: "dns-tcp", Port: 53, Protocol: "TCP"}, {Name: "dns-udp", Port: 53, Protocol: "UDP"}, {Name: "http", Port: 80, Protocol: "TCP"}}},
	"beszel":                  {Kind: Deployment, Ports: []Port{{Name: "http", Port: 8090, Protocol: "TCP"}}},
	"beszel-agent":            {Kind: DaemonSet, HostPorts: []Port{{Name: "agent", Port: 45876, Protocol: "TCP"}}},
	"immich-server":           {Kind: Deployment, Ports: []Port{{Name: "http", Port: 2283, Protocol: "TCP"}}},
	"immich-machine-learning": {Kind: Deployment},
	"immich-postgres":         {Kind: StatefulSet},
	"immich-redis":            {Kind: Deployment},
	"home-assistant":          {Kind: StatefulSet, Ports: []Port{{Name: "http", Port: 8123, Protocol: "TCP"}}},
	"filebrowser":             {Kind: Deployment, Ports: []Port{{Name: "http", Port: 8081, Protocol: "TCP"}}},
	"restic-backup":           {Kind: CronJob},
	"postgres-backup":         {Kind: CronJob},
}

// LookupWorkload returns the spec of a known workload name.
func LookupWorkload(name string) (WorkloadSpec, bool) {
	s, ok := workloadSpecs[name]
	return s, ok
}

// KnownWorkloads lists the workload names nodeagent can render, sorted.
func KnownWorkloads() []string {
	out := make([]string, 0, len(workloadSpecs))
	for name := range workloadSpecs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ExposedService is an enabled workload reachable on a LoadBalancer address.
type ExposedService struct {
	Workload string
	Address  string
	Ports    []Port
}

// ExposedServices returns the enabled workloads with a LoadBalancer address,
// sorted by name: what MetalLB announces and the firewall lets in.
func (c *Cluster) ExposedServices() []ExposedService {
	var out []ExposedService
	for _, name := range c.EnabledWorkloads() {
		spec, ok := workloadSpecs[name]
		addr := c.Network.LoadBalancer.Addresses[name]
		if !ok || len(spec.Ports) == 0 || addr == "" {
			continue
		}
		out = append(out, ExposedService{Workload: name, Address: addr, Ports: spec.Ports})
	}
	return out
}

// NodeHostPorts returns the host ports of the enabled workloads, which the
// other nodes must reach (the beszel hub polls each node's agent).
func (c *Cluster) NodeHostPorts() []Port {
	var out []Port
	for _, name := range c.EnabledWorkloads() {
		out = append(out, workloadSpecs[name].HostPorts...)
	}
	return out
}
