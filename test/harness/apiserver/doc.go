// Package apiserver runs a real kube-apiserver for integration tests.
//
// Start launches an in-process embedded etcd and the upstream kube-apiserver
// binary (built from k8s.io/kubernetes by test/tools/build-kube-apiserver.sh,
// cached outside the repository) on loopback ports, with a throwaway PKI in
// t.TempDir(). It returns once /readyz answers 200 and tears everything down
// in t.Cleanup.
//
// The server is a bare control plane: no kube-controller-manager, scheduler or
// kubelet runs. Objects are stored and validated, admission and server-side
// apply work, but nothing reconciles them: Deployments get no ReplicaSets,
// namespaces stay Terminating after deletion, and no "default" ServiceAccount
// is created (so the ServiceAccount admission plugin is disabled).
//
// Authorization mirrors k3s (--authorization-mode=Node,RBAC with the
// NodeRestriction admission plugin); the admin credentials are in group
// system:masters, like the admin in /etc/rancher/k3s/k3s.yaml. NodeKubeconfig
// mints a kubelet's credentials (system:node:<name>), as an agent has them.
//
// Binary lookup: $NODEAGENT_KUBE_APISERVER, else
// ${NODEAGENT_CACHE:-$HOME/.cache/nodeagent}/kube-apiserver-<version>/kube-apiserver.
// When it is missing the test is skipped, or fails when CI=true or
// NODEAGENT_INTEGRATION=1.
package apiserver
