// Package serverwork is what only a k3s server does, through etcd and the
// typed Kubernetes API: the quorum gate, the manifests (MetalLB,
// cert-manager, sealed-secrets and the workloads, applied by the holder of
// the apply Lease once etcd has quorum), and its turn in a rolling k3s
// restart (the restart Lease). It also plans the manifests for the whole
// cluster (`nodeagent plan`) and reads a server's etcd view and the last
// apply for `nodeagent status`, and every node of the cluster for
// `nodeagent status --cluster`. On the backups node it keeps the
// sealed-secrets controller's keys on the backups disk and puts them back
// into a rebuilt cluster (`nodeagent sealed-keys`), and every server's
// apply holds a new sealed-secrets chart back until that node has checked
// its keys (the sealed-secrets gate, bounded by SealedKeysWait). The one
// exception to "only a server": an agent's `nodeagent leave`
// (AgentLeaver), which shares remove-node's drain and runs with the
// kubelet's credentials.
//
// It sits beside internal/agent, not under it, because it links what the
// resident daemon must not: client-go's typed clientset (leader election),
// the etcd v3 client and every rendered API type. `nodeagent join` runs it
// in process; the daemon runs it through short-lived `nodeagent quorum`,
// `nodeagent apply`, `nodeagent restart-turn` and `nodeagent sealed-keys`
// children (package child,
// which links none of it) and stays small while idle.
package serverwork
