// Package platform is a server's last two phases of join: the quorum gate
// and the manifests (MetalLB, cert-manager, sealed-secrets and the
// workloads), applied by the holder of the apply lease once etcd has quorum.
// It also plans the manifests for the whole cluster (`nodeagent plan`).
//
// It sits beside internal/agent, not under it, because it links what the
// resident daemon must not: client-go's typed clientset (leader election),
// the etcd v3 client and every rendered API type. `nodeagent join` runs it in
// process; the daemon runs it through a short-lived `nodeagent quorum` or
// `nodeagent apply` child (agent.CommandPlatform) and stays small while idle.
package platform
