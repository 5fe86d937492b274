// Package agent ties the steps together. It holds the step table (steps.go:
// every step one value of the Step type, registered once) and everything
// that iterates it: `join`, the reconcile loop of `run`, `plan`, `status`
// and `doctor`. It is the only package that knows about more than one step;
// data between steps flows through it.
//
// A server's quorum, manifests and restart turn come through the ServerWork
// interface: internal/serverwork in `nodeagent join`, `nodeagent` children
// (serverwork/child) in the daemon. This package links neither client-go's
// typed clientset nor the etcd client (test/deps).
package agent
