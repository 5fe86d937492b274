// Package k3s runs k3s on a node: it installs the release binary (through
// internal/release), renders /etc/rancher/k3s/config.yaml from the cluster
// file, writes the systemd unit, starts or restarts k3s only when something
// changed, and decides how a node that
// never joined joins: through the first configured server whose /cacerts
// serves the cluster CA, or, for the first server only when no server has a
// cluster and no CA is pinned, with cluster-init (DecideJoin).
//
// An etcd member of a multi-server cluster restarts in its RestartTurn, and
// puts a new binary, config.yaml or unit in place only inside it: Ensure
// stages the change first (the release verified beside its target, the
// files rendered in memory), so k3s restarted by systemd or a power loss
// before the turn comes back with the old files.
//
// The package follows the project's observe / pure diff / apply rule: the
// rendering functions (RenderConfig, UnitFile, Plan) and the join decision
// (DecideJoin) are pure, Manager
// compares what is on the host with what is wanted and writes only the
// difference, and a second run on an unchanged node writes no file and
// restarts nothing.
package k3s
