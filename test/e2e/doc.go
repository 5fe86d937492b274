// Package e2e is the end-to-end test of nodeagent: a three-Pi homelab
// (pi4-1, pi4-2, pi5) plus a k3s agent (pi4-3) on one machine.
//
// Each node is a systemd-nspawn container (test/harness/nspawn) booted from
// the cached Debian rootfs, in a network namespace of its own whose eth0 is
// one end of a veth pair; the other ends sit on one bridge in a further
// namespace the test creates, which also holds the release server
// (10.77.0.1:8080) that serves the k3s stand-in and its checksum file. The
// host's own network namespace is never touched and no traffic leaves the
// test subnet.
//
// The project's .deb is built from the tree and installed with dpkg -i in
// every container, after the cluster file and the token are in place, so
// nodeagent.service starts on all three nodes at the same moment (each
// container's hostname is its node's name, as on a Pi) and runs
// the real code paths: download and verify, UFW, the disk (a loop device
// bound into pi5), the USB labels (a fixture tree bound into pi4-2, the
// only simulated hardware), the join decision, the quorum gate and the
// manifests. k3s itself is test/tools/k3s-standin, built from the real etcd
// and kube-apiserver. Nothing gets in the way of that first join, so its
// figures are a clean join's: start to three voters and the manifests
// applied, and per node nodeagent's own share (its join pass without k3s's
// start-up and the waits on other nodes and on k3s: the join decision,
// register, quorum, the apply lease and the charts' CRDs). The joined
// homelab is then checked from the inside: `nodeagent status --cluster` on
// every server, the metrics on pi4-2's loopback after the USB hotplugs.
//
// The stand-in runs the real kube-scheduler and kube-controller-manager on
// the servers and kubemark's hollow kubelet (the real kubelet over a fake
// container runtime) on every node, each Node reporting the cluster file's
// capacity (a TEST-ONLY file of the stand-in's, standin_test.go), and the
// controllers' failure timeouts are shortened through k3s's own
// kube-controller-manager-arg and kube-apiserver-arg keys in a config.yaml.d
// drop-in. The first apply creates the workloads only once the nodes
// validate places their pods on are Ready (the placement gate,
// internal/serverwork): pi5, the last server to join, often registers after
// quorum opens the apply. The applied-once step reports that wait and fails
// if the gate gave up. Once the Secrets `nodeagent status` names as missing are created,
// every workload of the architecture must run, each pod on the node
// validate's capacity analysis (internal/capacity) gives it, and each
// CronJob's pod too. The architecture's "Node Failure Scenarios" are steps:
// pi4-2 down (home-assistant Pending, nginx-proxy-manager and pihole served
// from pi4-1), pi5 down (immich-server and filebrowser Pending, quorum
// kept), each held to validate's analysis of that failure, and pi5's HDD
// pulled in the snapshots step, its loop device detached (its labels gone,
// a restarted filebrowser Pending until the disk is plugged back).
//
// After the faults (pi4-2 down and back, then pi5 down, two down, recovery), the rolling
// restart and the idle measurement come the k3s upgrades (issue 17): the release server also serves
// two stand-in variants, v1.33.6+k3s1 and v1.34.1+k3s1 whose `k3s server`
// exits 1 at start (test/tools/build-k3s-standin.sh). The cluster file asks
// for the first on all three nodes at once: they upgrade one at a time
// (never two down), each Node reports the new version and the replaced
// binary stays as k3s.previous. Then it asks for the broken one: the first
// server to take the turn rolls back within k3s.upgradeTimeout (2m here),
// the failed version goes on the restart Lease, the other two never restart
// and say the rollout stopped, quorum holds; going back to the installed
// version restarts nothing. The destructive steps come last (issue 15): a
// rebuild wipes a node as a re-flashed SD card would, a new container from
// the pristine rootfs on the same network namespace, hostname and USB
// fixture (the old container stops for good, its journal kept), with the
// namespace's firewall tables emptied as a power cycle would, and installs
// it as its user would (cluster file, token, dpkg -i, whose postinst starts
// the agent) while the others run. pi4-2 is rebuilt, then pi4-1, the first
// server, which must join the existing cluster (one CA, one member list,
// cluster_init=false); each time the node's agent must remove its stale
// etcd member itself and no workload object may change. Then `nodeagent
// remove-node pi4-2` on pi4-1 must refuse while pi4-2 is healthy and
// succeed once it is stopped for good, and a new pi4-2 joins through the
// faults of a join: pi4-1's and pi5's UFW drop its 2380/tcp for a while
// (it must not become a voter meanwhile) and its agent is killed with
// SIGKILL in the k3s phase.
// The summary gives each rebuild's time from the agent's start to a
// healthy voter, and the agent's share before it starts k3s.
//
// Container findings (systemd-nspawn 252 with --register=no --keep-unit):
// no device cgroup policy is installed, so a bound /dev/loopN node is
// readable and mountable inside; no udev runs in the container, so the
// test creates the /dev/disk/by-uuid link udev would (nodeagent's mount
// unit names the disk by UUID), and systemd in a container adds no device
// unit dependency to that mount. nspawn keeps CAP_NET_ADMIN only with
// --private-network, so the harness adds it for a namespace of the test's
// (UFW needs it). timedated's NTPSynchronized is the host kernel's clock state, which
// the test machine need not have synchronised, so the cluster file says
// preflight.timeSync: warn (the real timedated is still asked).
//
// Run with `make e2e` (NODEAGENT_INTEGRATION=1, root). Journals of every
// node are saved under $NODEAGENT_E2E_LOGS (default a temp dir) when the
// test fails. NODEAGENT_E2E_UNTIL=<step> (a step's name as the summary
// prints it, e.g. workloads) ends the run after that step, for work on the
// early steps.
package e2e
