// Package agent ties the steps together: the phases of `join`, the reconcile
// loop of `run`, and the plan that shows both. It is the only package that
// knows about more than one step; data between steps flows through it.
//
// A server's last two phases, the quorum gate and the manifests, come
// through the ServerWork interface: internal/serverwork in `nodeagent join`,
// `nodeagent` children (serverwork/child) in the daemon. This package links
// neither client-go's typed clientset nor the etcd client (test/deps).
package agent
