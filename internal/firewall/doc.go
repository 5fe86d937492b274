// Package firewall keeps UFW on a node at the policy the cluster needs and
// nothing more: default deny incoming and routed, allow outgoing, SSH from the
// configured sources, the k3s, flannel and MetalLB ports from the other nodes'
// addresses, the pod and service networks on cni0 and the flannel tunnel
// only (to the node ports pods need), and the LoadBalancer services from the
// LAN.
//
// The step follows observe, diff, apply: Observe reads the live state with
// one `ufw status` and the user rule files, Desired and Diff are pure, and
// Apply runs only the ufw commands the diff needs. Every rule nodeagent adds
// carries a "nodeagent:" comment; only such rules are ever deleted, so rules
// an operator added by hand survive every run.
//
// Before ufw is enabled or its SSH rules change, a guard (CheckSSH, pure,
// fed by sock_diag and rtnetlink) refuses a change under which an open SSH
// session's source, or the network this node's default route answers on,
// could no longer connect: nothing is written, and the error names the
// session and the firewall.sshSources to add.
package firewall
