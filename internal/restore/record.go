package restore

import (
	"fmt"
	"strconv"
	"time"
)

// RecordName is the ConfigMap in kube-system where `nodeagent restore`
// records a restore, in the restored cluster itself: what a peer reads to
// tell a deliberate restore from an accidental second cluster.
const RecordName = "nodeagent-etcd-restore"

// Record is one restore.
type Record struct {
	Node     string // the server that restored
	Snapshot string // the snapshot's path there
	Time     time.Time
	// ClusterID is the etcd cluster ID after the restore; a peer acts on a
	// record only while the restored server's etcd still has it.
	ClusterID uint64
	// Member is the restored server's etcd member name.
	Member string
}

// Data is the record as ConfigMap data.
func (r Record) Data() map[string]string {
	return map[string]string{
		"node":      r.Node,
		"snapshot":  r.Snapshot,
		"time":      r.Time.UTC().Format(time.RFC3339),
		"clusterID": fmt.Sprintf("%x", r.ClusterID),
		"member":    r.Member,
	}
}

// RecordFromData reads a record from ConfigMap data.
func RecordFromData(d map[string]string) (Record, error) {
	id, err := strconv.ParseUint(d["clusterID"], 16, 64)
	if err != nil || id == 0 {
		return Record{}, fmt.Errorf("restore record: clusterID %q: want a hex etcd cluster ID", d["clusterID"])
	}
	t, err := time.Parse(time.RFC3339, d["time"])
	if err != nil {
		return Record{}, fmt.Errorf("restore record: time %q: %w", d["time"], err)
	}
	if d["node"] == "" {
		return Record{}, fmt.Errorf("restore record: no node")
	}
	return Record{Node: d["node"], Snapshot: d["snapshot"], Time: t, ClusterID: id, Member: d["member"]}, nil
}
