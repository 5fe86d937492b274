package restore

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// DBDir is the etcd data a server keeps; after a cluster reset elsewhere k3s
// says to back it up and delete it on every other server
// (pkg/etcd/etcd.go, the message after Reset). nodeagent moves it aside.
const DBDir = "/var/lib/rancher/k3s/server/db"

// ResetDoneMessage is the part of k3s's last line after a successful
// reset (and restore) that every version since v1.19 prints before it
// exits 0: "Etcd is running, restart without --cluster-reset flag now. ..."
// in older releases, "Managed etcd cluster membership has been reset,
// restart without --cluster-reset flag now. Backup and delete
// ${datadir}/server/db on each peer etcd server and rejoin the nodes" in
// current ones (pkg/etcd/etcd.go Reset).
const ResetDoneMessage = "restart without --cluster-reset flag now"

// ResetDone reports whether k3s's output says the reset succeeded.
func ResetDone(output string) bool { return strings.Contains(output, ResetDoneMessage) }

// ResetArgs is the argv (after the binary) of the reset. k3s reads the
// token and the rest of its flags from config.yaml, so no secret is in
// argv.
func ResetArgs(snapshotPath string) []string {
	return []string{"server", "--cluster-reset", "--cluster-reset-restore-path=" + snapshotPath}
}

// RejoinPendingPath holds the supervisor URL a server rejoins through
// after moving its data aside, from before the move until k3s has joined
// (its etcd data exists again): a pass interrupted in between joins
// through that server too, never through a server of the old cluster.
const RejoinPendingPath = "/var/lib/nodeagent/restore-rejoin-via"

// AsideDir is where a server's old etcd data goes before it rejoins the
// restored cluster: beside it, dated, never deleted by nodeagent.
func AsideDir(now time.Time) string {
	return filepath.Join(filepath.Dir(DBDir), "db.before-restore-"+now.UTC().Format("20060102T150405Z"))
}

// Describe is what `nodeagent restore` says before it acts (and all it
// does without --yes): the snapshot, what happens here and to the peers.
func Describe(s Snapshot, self string, peers []string) []string {
	form := "etcd snapshot"
	if s.Zipped {
		form = "k3s zipped etcd snapshot"
	}
	lines := []string{
		fmt.Sprintf("restore %s (%s, %d bytes, written %s)", s.Path, form, s.Size, s.ModTime.UTC().Format(time.RFC3339)),
		"on " + self + ": stop k3s, reset etcd's membership to this server alone with the snapshot's data (k3s server --cluster-reset --cluster-reset-restore-path), start k3s and wait for etcd",
		"every change to the cluster since the snapshot was taken is lost",
		"record the restore in kube-system/" + RecordName + " (node, snapshot, time, the new etcd cluster ID)",
	}
	if len(peers) > 0 {
		lines = append(lines, "then the daemon on "+strings.Join(peers, ", ")+" finds its etcd member missing from the restored cluster, stops k3s, moves "+DBDir+" aside to "+filepath.Dir(DBDir)+"/db.before-restore-<UTC time> (kept) and rejoins through "+self)
	}
	return lines
}
