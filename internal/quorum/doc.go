// Package quorum is the etcd quorum gate of nodeagent.
//
// k3s servers run an embedded etcd. Before nodeagent applies cluster-wide
// changes (manifests, labels) after a server joins, and before each step of the
// reconcile loop, it asks this package whether etcd quorum is held from this
// node's point of view.
//
// The package has three layers, following the project's "pure decision, thin
// effect" rule:
//
//   - Observer talks to etcd (the local endpoint, https://127.0.0.1:2379, and
//     every member's own client URL) with the client certificates k3s writes
//     to /var/lib/rancher/k3s/server/tls/etcd, and returns a Status.
//   - assess and Evaluate are pure: assess decides which members are healthy
//     from what each one answered, Evaluate counts healthy voters against
//     ⌊n/2⌋+1 where n counts voters only (learners never count).
//   - Gate polls an Observer until quorum holds or a deadline passes (Wait),
//     or checks once (Held) so a step can stop at its next boundary.
//
// A member counts as healthy only when it answers on its own client URL,
// reports a leader that is a current voting member, and agrees on leader and
// raft term with the view the cluster holds. On top of that, quorum is only
// claimed when a linearizable read through the local endpoint succeeds: a node
// cut off from its peers can still reach their client ports, and their
// answers alone must not make it believe it is part of a working cluster.
package quorum
