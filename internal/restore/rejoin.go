package restore

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PeerView is what another server's etcd and API said.
type PeerView struct {
	Name string
	// Err: its etcd did not answer (down, starting, or another CA: an
	// accidental second cluster does not trust this node's certificate).
	Err error
	// ClusterID and Members are its etcd's cluster ID and member names.
	ClusterID uint64
	Members   []string
	// Record is the restore record its API holds, nil when none;
	// RecordErr when the API could not be read.
	Record    *Record
	RecordErr error
}

// RejoinInput is what DecideRejoin decides from.
type RejoinInput struct {
	Self string
	// Member is this server's etcd member name (server/db/etcd/name); ""
	// when it has none, and then there is nothing to rejoin.
	Member string
	// Joined: etcd data exists here (server/db/etcd/member/wal).
	Joined bool
	// Local is this server's own etcd, read serializably (it answers
	// without quorum): its cluster ID and the restore record it holds.
	// Err set: it did not answer, and then nothing moves.
	Local PeerView
	Peers []PeerView
}

// RejoinAction is what the daemon does.
type RejoinAction int

const (
	// RejoinNothing: this server is where it belongs, or nothing proves
	// that it is not.
	RejoinNothing RejoinAction = iota
	// RejoinWait: a peer that may hold the restored cluster did not answer.
	RejoinWait
	// RejoinMove: move server/db aside and rejoin through Via.
	RejoinMove
)

// RejoinDecision is the decision and why, for STATUS and the journal.
type RejoinDecision struct {
	Action RejoinAction
	Via    string // the restored server
	Record Record
	Reason string
}

// DecideRejoin decides whether this server's etcd data belongs to a
// cluster that was restored elsewhere without it. It moves only on proof:
// a peer whose etcd has the cluster ID that peer's own restore record
// names (so the record is the current one, not an older restore's), whose
// members do not include this one. A peer without a record, however
// different its cluster, never makes this server move its data: that is
// an accidental second cluster, and the project never loses data for one.
// A peer that does not answer means wait, unless another peer already
// proved the restore.
func DecideRejoin(in RejoinInput) RejoinDecision {
	if !in.Joined || in.Member == "" {
		return RejoinDecision{Reason: "no etcd data here: nothing to rejoin"}
	}
	if in.Local.Err != nil {
		if d, ok := leftAlone(in); ok {
			return d
		}
		return RejoinDecision{Action: RejoinWait, Reason: fmt.Sprintf("this server's etcd does not answer (%v): not deciding whether it was left out of a restore", in.Local.Err)}
	}
	own := currentRecord(in.Local)
	var silent, foreign []string
	for _, p := range in.Peers {
		switch {
		case p.Err != nil:
			silent = append(silent, fmt.Sprintf("%s (%v)", p.Name, p.Err))
			continue
		case slices.Contains(p.Members, in.Member):
			continue // same cluster as this member
		case p.RecordErr != nil:
			silent = append(silent, fmt.Sprintf("%s (restore record: %v)", p.Name, p.RecordErr))
			continue
		case p.Record == nil:
			foreign = append(foreign, p.Name)
			continue
		}
		r := *p.Record
		switch {
		case r.ClusterID != p.ClusterID:
			foreign = append(foreign, fmt.Sprintf("%s (its restore record names etcd cluster %x, it has %x)", p.Name, r.ClusterID, p.ClusterID))
		case r.Node == in.Self:
			foreign = append(foreign, fmt.Sprintf("%s (the record names this server as the restorer)", p.Name))
		case own != nil && !own.Time.Before(r.Time):
			foreign = append(foreign, fmt.Sprintf("%s (its restore by %s at %s is not newer than this cluster's, by %s at %s)", p.Name,
				r.Node, r.Time.UTC().Format(time.RFC3339), own.Node, own.Time.UTC().Format(time.RFC3339)))
		default:
			return RejoinDecision{Action: RejoinMove, Via: p.Name, Record: r,
				Reason: fmt.Sprintf("%s restored etcd from %s at %s (cluster %x, members %s) without this server's member %s: moving %s aside and rejoining through %s",
					r.Node, r.Snapshot, r.Time.UTC().Format("2006-01-02 15:04:05Z"), r.ClusterID, strings.Join(p.Members, ", "), in.Member, DBDir, p.Name)}
		}
	}
	if len(silent) > 0 {
		return RejoinDecision{Action: RejoinWait, Reason: "waiting for " + strings.Join(silent, ", ") + " to answer before deciding whether etcd was restored without this server"}
	}
	if len(foreign) > 0 {
		return RejoinDecision{Reason: "keeping this server's etcd data: " + strings.Join(foreign, ", ") +
			" lack(s) member " + in.Member + " but no current restore record proves a deliberate restore (an accidental second cluster never makes a server move its data)"}
	}
	return RejoinDecision{Reason: "etcd member " + in.Member + " is in every answering server's cluster"}
}

// currentRecord is the record of v when it names v's own cluster ID, the
// cluster it describes; nil otherwise.
func currentRecord(v PeerView) *Record {
	if v.Record == nil || v.Record.ClusterID != v.ClusterID {
		return nil
	}
	return v.Record
}

// leftAlone decides for a server whose own etcd does not answer: the last
// server of a cluster restored elsewhere, once the others have rejoined,
// has no quorum, and etcd serves no client before it has published itself
// to its cluster. Its own restore record cannot be read then, so it moves
// only when every other server answers from one cluster, holding a current
// record of a restore by another server, whose members lack this one: no
// other server is left in this server's old cluster, so its data can serve
// no one (it is kept all the same).
func leftAlone(in RejoinInput) (RejoinDecision, bool) {
	if len(in.Peers) == 0 {
		return RejoinDecision{}, false
	}
	first := in.Peers[0]
	r := currentRecord(first)
	if r == nil || r.Node == in.Self {
		return RejoinDecision{}, false
	}
	via := first.Name
	for _, p := range in.Peers {
		if p.Err != nil || p.ClusterID != first.ClusterID || slices.Contains(p.Members, in.Member) {
			return RejoinDecision{}, false
		}
		if p.Name == r.Node {
			via = p.Name
		}
	}
	return RejoinDecision{Action: RejoinMove, Via: via, Record: *r,
		Reason: fmt.Sprintf("%s restored etcd from %s at %s (cluster %x) and every other server has joined it without this server's member %s, whose own etcd has no quorum left (%v): moving %s aside and rejoining through %s",
			r.Node, r.Snapshot, r.Time.UTC().Format("2006-01-02 15:04:05Z"), r.ClusterID, in.Member, in.Local.Err, DBDir, via)}, true
}
