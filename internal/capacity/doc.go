// Package capacity checks whether the rendered workloads fit the cluster's
// nodes, also after any single node fails: it reads the pods that the
// manifests package's objects request (requests, HARD and SOFT placement,
// spread, tolerations, local-path volumes), places them the way the
// scheduler would, adds what k3s itself uses (which the scheduler does not
// see: k3s sets no system-reserved), and replays the loss of each node.
//
// It is pure: Analyze reads a *config.Cluster and a rendered manifests.Set
// and returns a Report; Check renders and analyses with the defaults (the
// capacity part of `nodeagent validate`). `nodeagent plan` prints the
// report.
//
// local-path volumes bind to the node a pod first ran on, so SOFT workloads
// with one (beszel, immich-postgres) cannot move after a failure: the
// report names them as pinned rather than pretending they move. A
// replicated StatefulSet (nginx-proxy-manager, pihole: one volume per
// replica) loses the replica on the failed node too, but the report names
// the replica that keeps serving and does not warn.
package capacity
