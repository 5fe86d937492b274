// Package restore is the pure part of `nodeagent restore SNAPSHOT` and of
// the peers' rejoin after it: finding and checking the snapshot file, what
// the command says it will do, k3s's cluster-reset argv and its message,
// the restore record kept in the restored cluster, and DecideRejoin, which
// tells a server whose etcd member is not in the restored cluster to move
// its old data aside and rejoin. It links neither client-go nor etcd, so the
// daemon may use it; the effects live in cmd/nodeagent and
// internal/serverwork.
package restore
